// Idempotency and fencing rules shared by every store, so that each one decides a retried or
// zombie append the same way (contract point 2).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <strata/session/event.h>
#include <strata/status.h>

namespace strata::session::detail {

// What a store remembers per (session, producer).
struct ProducerState {
  std::uint64_t epoch = 0;
  std::optional<std::uint64_t> last_seq;  // last sequence written in `epoch`
  Offset last_first = 0;                  // offsets of that append
  Offset last_last = 0;
};

enum class ProducerVerdict {
  kWrite,           // write the events, then call record()
  kDuplicateLast,   // the last append again: return last_first..last_last
  kDuplicateOlder,  // an older sequence: the store looks up its offsets
  kReject,          // `error` says why (fenced, sequence gap)
};

struct ProducerDecision {
  ProducerVerdict verdict = ProducerVerdict::kWrite;
  Status error;
};

inline ProducerDecision decide(const ProducerState* state, const std::string& producer,
                               std::uint64_t epoch, std::optional<std::uint64_t> seq) {
  if (state != nullptr && epoch < state->epoch) {
    return {ProducerVerdict::kReject,
            failed_precondition_error("producer " + producer + " is fenced: epoch " +
                                      std::to_string(epoch) + " is older than epoch " +
                                      std::to_string(state->epoch))};
  }
  if (!seq) return {};
  const bool fresh = state == nullptr || epoch > state->epoch || !state->last_seq;
  if (fresh) {
    if (*seq != 0) {
      return {ProducerVerdict::kReject,
              failed_precondition_error("producer " + producer + " sequence gap: epoch " +
                                        std::to_string(epoch) + " must start at sequence 0, got " +
                                        std::to_string(*seq))};
    }
    return {};
  }
  const std::uint64_t last = *state->last_seq;
  if (*seq == last + 1) return {};
  if (*seq == last) return {ProducerVerdict::kDuplicateLast, {}};
  if (*seq < last) return {ProducerVerdict::kDuplicateOlder, {}};
  return {ProducerVerdict::kReject,
          failed_precondition_error("producer " + producer + " sequence gap: expected " +
                                    std::to_string(last + 1) + ", got " + std::to_string(*seq))};
}

// Updates `state` after a write of offsets first..last.
inline void record(ProducerState& state, std::uint64_t epoch, std::optional<std::uint64_t> seq,
                   Offset first, Offset last) {
  if (epoch > state.epoch) {
    state.epoch = epoch;
    state.last_seq.reset();
  }
  if (seq) {
    state.last_seq = seq;
    state.last_first = first;
    state.last_last = last;
  }
}

inline Status duplicate_removed_error(const std::string& producer, std::uint64_t seq) {
  return already_exists_error("producer " + producer + " sequence " + std::to_string(seq) +
                              " was already written, and retention has removed its events");
}

// A new random epoch: 32 hex digits.
std::string new_epoch();

}  // namespace strata::session::detail
