#include "parallel/sequence_parallel/ulysses.h"

#include <stdexcept>
#include <string>

#include "parallel/autograd_collectives.h"

namespace behemoth {

at::Tensor ulyssesToHeads(const at::Tensor& x, Group& sp) {
  if (x.dim() != 4 || x.size(1) % sp.size() != 0) {
    throw std::invalid_argument("Ulysses all-to-all on group " + sp.label() + ": " + std::to_string(x.size(1)) +
                                " heads do not split over " + std::to_string(sp.size()) + " sp ranks");
  }
  return allToAllInGroup(x, sp, /*split_dim=*/1, /*concat_dim=*/2);
}

at::Tensor ulyssesToSequence(const at::Tensor& x, Group& sp) {
  return allToAllInGroup(x, sp, /*split_dim=*/2, /*concat_dim=*/1);
}

}  // namespace behemoth
