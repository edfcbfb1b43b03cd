# Installs strata to a temporary prefix — once static, once shared — and builds and runs
# examples/consumer against each with find_package(strata).
#   cmake -DSOURCE_DIR=... -DBINARY_DIR=... -DWORK_DIR=... -DGENERATOR=... [-DLAUNCHER=...]
#         -P find_package_test.cmake
#
# The static case installs the build tree under test (BINARY_DIR, already built, so it costs
# nothing). The shared case configures and builds the library once more with
# BUILD_SHARED_LIBS=ON; it is compiled without optimisation because what it checks is the
# packaging (exported targets, symbol visibility, find_dependency), and -O2 would double the
# slowest step of the dev test run. It is a unity build (CMAKE_UNITY_BUILD) for the same reason.
foreach(kind static shared)
  set(prefix "${WORK_DIR}/${kind}/prefix")
  set(consumer "${WORK_DIR}/${kind}/consumer")
  file(REMOVE_RECURSE "${WORK_DIR}/${kind}")

  if(kind STREQUAL "static")
    message(STATUS "[${kind}] installing the build tree ${BINARY_DIR}")
    execute_process(COMMAND ${CMAKE_COMMAND} --install ${BINARY_DIR} --prefix ${prefix}
      RESULT_VARIABLE rc)
    if(rc)
      message(FATAL_ERROR "[${kind}] installing strata failed")
    endif()
  else()
    set(build "${WORK_DIR}/${kind}/build")
    message(STATUS "[${kind}] building and installing strata")
    execute_process(
      COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${build} -G ${GENERATOR}
        -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-DNDEBUG" -DBUILD_SHARED_LIBS=ON
        -DCMAKE_UNITY_BUILD=ON
        "-DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER}"
        -DSTRATA_BUILD_TESTS=OFF -DSTRATA_BUILD_EXAMPLES=OFF -DSTRATA_BUILD_BENCHMARKS=OFF
        -DSTRATA_BUILD_TOOLS=OFF -DCMAKE_INSTALL_PREFIX=${prefix}
      RESULT_VARIABLE rc)
    if(rc)
      message(FATAL_ERROR "[${kind}] configuring strata failed")
    endif()
    execute_process(COMMAND ${CMAKE_COMMAND} --build ${build} --target install RESULT_VARIABLE rc)
    if(rc)
      message(FATAL_ERROR "[${kind}] building or installing strata failed")
    endif()
  endif()

  message(STATUS "[${kind}] building the consumer with find_package(strata)")
  execute_process(
    COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/consumer -B ${consumer} -G ${GENERATOR}
      -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${prefix}
    RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "[${kind}] configuring the consumer failed")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${consumer} RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "[${kind}] building the consumer failed")
  endif()
  execute_process(COMMAND ${consumer}/strata_consumer "${WORK_DIR}/${kind}/consumer.db"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message(STATUS "[${kind}] consumer printed: ${out}${err}")
  if(rc OR NOT out MATCHES "consumer ok")
    message(FATAL_ERROR "[${kind}] the consumer failed (${rc})")
  endif()
endforeach()
