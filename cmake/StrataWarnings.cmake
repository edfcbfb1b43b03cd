# strata_set_warnings(<target>): the project's warning flags, PRIVATE so they never leak
# into consumers.
function(strata_set_warnings target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic
      -Wnon-virtual-dtor -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough
      $<IF:$<CXX_COMPILER_ID:GNU>,-Wshadow=local,-Wshadow-uncaptured-local>)
    if(STRATA_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
  endif()
endfunction()

# strata_harness_options(<target>): STRATA_HARNESS_CXX_FLAGS for code that drives the library —
# the tests, the examples, the interop server — appended after CMAKE_CXX_FLAGS. The sanitizer
# presets set it to -O0: the library keeps -O1 (the tests spend their time in it), while the
# test code around it, which clang compiles 2.6 times faster at -O0 with ASan, does not need
# it. The fuzz harnesses keep -O1: some instantiate parsers inline, and a fuzzer's executions
# per second are its coverage.
set(STRATA_HARNESS_CXX_FLAGS "" CACHE STRING
  "Extra compile flags for the tests and examples (not the library or the fuzzers)")
function(strata_harness_options target)
  if(STRATA_HARNESS_CXX_FLAGS)
    separate_arguments(flags UNIX_COMMAND "${STRATA_HARNESS_CXX_FLAGS}")
    target_compile_options(${target} PRIVATE ${flags})
  endif()
endfunction()
