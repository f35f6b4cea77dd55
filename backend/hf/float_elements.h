// Reading and writing one element of a safetensors tensor of dtype F32, BF16 or F16 as fp32
// (bf16/fp16 widened exactly; narrowed to nearest even, as PyTorch's .to() does). The dtype is
// resolved once per tensor (floatDtypeOf), not per element.
#pragma once

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace behemoth {

enum class FloatDtype { f32, bf16, f16 };

inline FloatDtype floatDtypeOf(const std::string& name) {
  if (name == "F32") return FloatDtype::f32;
  if (name == "BF16") return FloatDtype::bf16;
  if (name == "F16") return FloatDtype::f16;
  throw std::invalid_argument("dtype " + name + " is not F32, BF16 or F16");
}

inline int elementBytes(FloatDtype dtype) { return dtype == FloatDtype::f32 ? 4 : 2; }

inline float loadFloatElement(const std::byte* data, std::int64_t index, FloatDtype dtype) {
  if (dtype == FloatDtype::f32) {
    float value;
    std::memcpy(&value, data + index * 4, 4);
    return value;
  }
  std::uint16_t bits;
  std::memcpy(&bits, data + index * 2, 2);
  if (dtype == FloatDtype::bf16) return static_cast<float>(c10::BFloat16(bits, c10::BFloat16::from_bits()));
  return static_cast<float>(c10::Half(bits, c10::Half::from_bits()));
}

inline void storeFloatElement(float value, FloatDtype dtype, std::byte* out) {
  if (dtype == FloatDtype::f32) {
    std::memcpy(out, &value, 4);
    return;
  }
  const std::uint16_t bits = dtype == FloatDtype::bf16 ? c10::BFloat16(value).x : c10::Half(value).x;
  std::memcpy(out, &bits, 2);
}

}  // namespace behemoth
