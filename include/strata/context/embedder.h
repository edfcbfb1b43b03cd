// strata/context/embedder.h — an optional dense-vector plug-in for retrieval.
//
// The engine is deterministic and needs no model. A host may pass an Embedder through
// EngineOptions; retrieval then adds a cosine-similarity signal between the task and each
// candidate file's head (a rerank of the lexical candidates, never a replacement).
//
// Thread safety: implementations must be safe for concurrent calls on one object.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <strata/status.h>

namespace strata::context {

class Embedder {
 public:
  virtual ~Embedder() = default;
  [[nodiscard]] virtual std::string name() const = 0;
  // A vector for `text` (any length the embedder accepts; the engine truncates long inputs).
  // Vectors of one embedder must all have the same dimension.
  virtual Result<std::vector<float>> embed(std::string_view text) const = 0;
};

}  // namespace strata::context
