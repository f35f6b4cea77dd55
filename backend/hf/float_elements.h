// Reading and writing one element of a safetensors tensor of dtype F32, BF16 or F16 as fp32
// (bf16/fp16 widened exactly; narrowed to nearest even, as PyTorch's .to() does).
#pragma once

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace behemoth {

inline float loadFloatElement(const std::byte* data, std::int64_t index, const std::string& dtype) {
  if (dtype == "F32") {
    float value;
    std::memcpy(&value, data + index * 4, 4);
    return value;
  }
  std::uint16_t bits;
  std::memcpy(&bits, data + index * 2, 2);
  if (dtype == "BF16") return static_cast<float>(c10::BFloat16(bits, c10::BFloat16::from_bits()));
  return static_cast<float>(c10::Half(bits, c10::Half::from_bits()));
}

inline void storeFloatElement(float value, const std::string& dtype, std::byte* out) {
  if (dtype == "F32") {
    std::memcpy(out, &value, 4);
    return;
  }
  const std::uint16_t bits = dtype == "BF16" ? c10::BFloat16(value).x : c10::Half(value).x;
  std::memcpy(out, &bits, 2);
}

}  // namespace behemoth
