// Layout assignment: which activations stay in the device's preferred layout between ops.
//
// oneDNN's fast CPU convolutions and pooling want channel-blocked layouts (nChw16c with AVX-512,
// nChw8c with AVX2) or channels-last (its brgemm kernels); kept plain, every such op reorders its
// input in and its output out. Here a tensor takes the preferred layout when every op touching it can, so a
// chain of convolutions reorders only at its ends:
//
//   - the backend gives each op a LayoutRole: Free ops (Conv, Pool) convert whatever they are handed;
//     Tied ops (elementwise ops on equal shapes, Concat / Split along channels) need all their 4-D
//     activations in one layout; Plain ops need plain;
//   - tensors joined through a Tied op form one component (union-find), blocked or plain together;
//   - a component takes the layout when each member is a 4-D float activation, neither a graph input
//     nor output, touched only by Free and Tied ops, with C a multiple of the block for a blocked
//     layout (so nothing is padded and the memory planner's sizes hold), and some member touches a
//     Free op (else converting it gains nothing).
#pragma once

#include "model.hpp"

namespace ts {

/** Sets TensorInfo::layout for every tensor of `m` (before its kernels compile); returns how many
 *  are not plain. A backend whose activationLayout() is Plain leaves every tensor plain. */
int assignLayouts(Model& m, const Backend& backend);

}  // namespace ts
