// What the operating system says about this process.
#pragma once

#include <cstdint>

namespace behemoth {

// Peak resident set size of this process so far, in bytes.
std::int64_t peakResidentBytes();

}  // namespace behemoth
