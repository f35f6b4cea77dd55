// Counter-based random numbers: a value is a pure function of its coordinates (seed, step, index...),
// computed with integer arithmetic only. Unlike a stateful generator, the same coordinates give the
// same bits on every machine, LibTorch version and parallel layout, and any element can be produced
// without producing the ones before it (a shard draws only its own slice).
#pragma once

#include <cstdint>
#include <string_view>

namespace behemoth {

// splitmix64 finalizer (Steele, Lea, Flood 2014): a bijective mix with good avalanche.
inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Hashes an ordered tuple of coordinates; (a, b) and (b, a) differ.
inline std::uint64_t counterHash(std::uint64_t a, std::uint64_t b) { return splitmix64(splitmix64(a) ^ b); }
inline std::uint64_t counterHash(std::uint64_t a, std::uint64_t b, std::uint64_t c) {
  return counterHash(counterHash(a, b), c);
}

// FNV-1a: a stable hash of a name (std::hash is not specified to be stable across libraries).
inline std::uint64_t stableNameHash(std::string_view name) {
  std::uint64_t hash = 0xCBF29CE484222325ull;
  for (const char c : name) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001B3ull;
  }
  return hash;
}

// Uniform in the open interval (0, 1) from the top 53 bits, so log() never sees zero.
inline double unitOpenInterval(std::uint64_t bits) {
  return (static_cast<double>(bits >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

}  // namespace behemoth
