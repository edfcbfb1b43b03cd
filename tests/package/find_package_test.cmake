# Installs strata to a temporary prefix — once built static, once shared — and builds and
# runs examples/consumer against each with find_package(strata).
#   cmake -DSOURCE_DIR=... -DWORK_DIR=... -DGENERATOR=... -P find_package_test.cmake
foreach(kind static shared)
  if(kind STREQUAL "shared")
    set(shared ON)
  else()
    set(shared OFF)
  endif()
  set(build "${WORK_DIR}/${kind}/build")
  set(prefix "${WORK_DIR}/${kind}/prefix")
  set(consumer "${WORK_DIR}/${kind}/consumer")
  file(REMOVE_RECURSE "${WORK_DIR}/${kind}")

  message(STATUS "[${kind}] building and installing strata")
  execute_process(
    COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${build} -G ${GENERATOR}
      -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=${shared}
      -DSTRATA_BUILD_TESTS=OFF -DSTRATA_BUILD_EXAMPLES=OFF -DSTRATA_BUILD_BENCHMARKS=OFF
      -DCMAKE_INSTALL_PREFIX=${prefix}
    RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "[${kind}] configuring strata failed")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${build} --target install RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "[${kind}] building or installing strata failed")
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
