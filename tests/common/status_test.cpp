#include <catch2/catch.hpp>

#include <strata/status.h>

using strata::Result;
using strata::Status;
using strata::StatusCode;

TEST_CASE("Status carries a canonical code and message", "[common][status]") {
  Status ok;
  CHECK(ok.ok());
  CHECK(ok.to_string() == "OK");
  Status bad = strata::invalid_argument_error("session id is empty");
  CHECK_FALSE(bad.ok());
  CHECK(bad.code() == StatusCode::kInvalidArgument);
  CHECK(bad.to_string() == "INVALID_ARGUMENT: session id is empty");
  CHECK(strata::to_string(StatusCode::kDataLoss) == "DATA_LOSS");
  CHECK(strata::to_string(StatusCode::kUnauthenticated) == "UNAUTHENTICATED");
}

TEST_CASE("Result holds a value or an error, never an OK status without a value",
          "[common][status]") {
  Result<int> value = 7;
  REQUIRE(value.ok());
  CHECK(*value == 7);
  CHECK(value.status().ok());
  Result<int> error = strata::not_found_error("nope");
  CHECK_FALSE(error.ok());
  CHECK(error.status().code() == StatusCode::kNotFound);
  CHECK(error.value_or(3) == 3);
  Result<int> misuse = Status();  // an OK status is not a value
  CHECK_FALSE(misuse.ok());
  CHECK(misuse.status().code() == StatusCode::kInternal);
}

namespace {
Status fails_then_stops(bool fail, int& reached) {
  STRATA_RETURN_IF_ERROR(fail ? strata::aborted_error("stop") : Status());
  ++reached;
  return {};
}
}  // namespace

TEST_CASE("STRATA_RETURN_IF_ERROR propagates only errors", "[common][status]") {
  int reached = 0;
  CHECK(fails_then_stops(true, reached).code() == StatusCode::kAborted);
  CHECK(reached == 0);
  CHECK(fails_then_stops(false, reached).ok());
  CHECK(reached == 1);
}
