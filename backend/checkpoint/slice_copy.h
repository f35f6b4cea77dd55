// Moving elements between two slices of one global tensor (checkpoint_format.h's TensorSlice: a
// box, and a flat range of the box's row-major elements). Loading into another layout is this
// copy, from every stored piece that overlaps to every slice the loading rank holds.
#pragma once

#include <cstddef>
#include <cstdint>

#include "backend/checkpoint/checkpoint_format.h"

namespace behemoth {

// Whether the boxes of two slices share any element (flat ranges not considered).
bool boxesOverlap(const TensorSlice& a, const TensorSlice& b);

// Copies every element that `source` and `target` both hold from source_data (the source slice's
// numel elements, in order) to target_data (the target's). Elements are element_bytes wide.
// Returns how many elements were copied.
std::int64_t copyOverlap(const TensorSlice& source, const std::byte* source_data, const TensorSlice& target,
                         std::byte* target_data, int element_bytes);

}  // namespace behemoth
