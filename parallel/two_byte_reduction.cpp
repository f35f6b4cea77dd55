#include "parallel/two_byte_reduction.h"

#include <ATen/ATen.h>

#include <stdexcept>

namespace behemoth {

bool reducesByExchange(const at::Tensor& tensor) {
  return tensor.is_cpu() && (tensor.scalar_type() == at::kBFloat16 || tensor.scalar_type() == at::kHalf);
}

at::Tensor reduceShardPieces(const at::Tensor& pieces, ReduceOp op) {
  if (pieces.dim() < 1 || pieces.size(0) < 1) throw std::invalid_argument("reduceShardPieces: no pieces to reduce");
  const int64_t n = pieces.size(0);
  // A copy even if `pieces` were fp32: the accumulator must never alias the input.
  at::Tensor accumulator = pieces.select(0, 0).to(at::kFloat, /*non_blocking=*/false, /*copy=*/true);
  for (int64_t r = 1; r < n; ++r) {
    const at::Tensor piece = pieces.select(0, r).to(at::kFloat);
    switch (op) {
      case ReduceOp::Sum:
      case ReduceOp::Avg: accumulator.add_(piece); break;
      case ReduceOp::Max: accumulator = at::maximum(accumulator, piece); break;
      case ReduceOp::Min: accumulator = at::minimum(accumulator, piece); break;
    }
  }
  if (op == ReduceOp::Avg) accumulator.div_(static_cast<double>(n));
  return accumulator.to(pieces.scalar_type());
}

}  // namespace behemoth
