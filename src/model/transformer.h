// The reference's Transformer (a stack of ResidualAttentionBlocks, clip/model.py), shared
// by the text tower and the vision transformer.
#pragma once

#include <cstdint>
#include <vector>

#include "clip/config.h"
#include "model/weights.h"
#include "runtime/backend.h"

namespace clip::model {

// Sequences of one length: `count` of them, `length` rows each.
struct SequenceGroup {
  std::int64_t count, length;
};

// Which row of each sequence the tower reads its feature from: the class token (first) in
// the vision transformer, the end-of-text token (last) in the text transformer.
enum class Readout { First, Last };

// The blocks on x: the rows of every sequence one after the other, group by group
// ([N, L, D] for a single group). Returns the read-out row of each sequence after the last
// block, in order ([sequences, D]). x is used as working memory.
runtime::Buffer transformer(runtime::Backend& be, const std::vector<Block>& blocks, int heads, Activation activation,
                            runtime::Buffer& x, const std::vector<SequenceGroup>& groups, std::int64_t d, bool causal,
                            Readout readout);

}  // namespace clip::model
