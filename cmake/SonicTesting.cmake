include(GoogleTest)

# sonic_add_test(NAME name SOURCES ... LIBS ... LABELS ... [TIMEOUT s] [SLOW_FILTER pattern] [SERIAL])
# Builds one GoogleTest binary and registers each of its tests in CTest with the given labels
# (unit, contract, integration, gpu, fpga, bench-smoke, slow). Tests matching SLOW_FILTER (a gtest
# filter such as "*ContractSlow*") are labelled `slow` instead, so that `ctest -LE slow` skips them.
function(sonic_add_test)
  if(NOT SONIC_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(T "SERIAL" "NAME;TIMEOUT;SLOW_FILTER" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  # SERIAL: tests that compare measured rates with a closed form run alone, not beside others.
  set(serial "")
  if(T_SERIAL)
    set(serial RUN_SERIAL TRUE)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  if(T_SLOW_FILTER)
    # gtest_discover_tests cannot pass a list of labels through PROPERTIES, so the slow tests
    # come from a second discovery with its own filter and the single label `slow`.
    gtest_discover_tests(${T_NAME} TEST_FILTER "-${T_SLOW_FILTER}"
      PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT} ${serial} DISCOVERY_TIMEOUT 60)
    gtest_discover_tests(${T_NAME} TEST_FILTER "${T_SLOW_FILTER}"
      PROPERTIES LABELS slow TIMEOUT ${T_TIMEOUT} ${serial} DISCOVERY_TIMEOUT 60
      TEST_LIST ${T_NAME}_SLOW_TESTS)
  else()
    gtest_discover_tests(${T_NAME}
      PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT} ${serial}
      DISCOVERY_TIMEOUT 60)
  endif()
endfunction()

# sonic_add_benchmark(NAME name SOURCES ... LIBS ... [SMOKE_ARGS ...])
# Builds one Google Benchmark binary and registers a smoke run (tiny time budget) labelled
# bench-smoke so that no benchmark can rot.
function(sonic_add_benchmark)
  if(NOT SONIC_BUILD_BENCHMARKS)
    return()
  endif()
  cmake_parse_arguments(B "" "NAME" "SOURCES;LIBS;SMOKE_ARGS" ${ARGN})
  add_executable(${B_NAME} ${B_SOURCES})
  target_link_libraries(${B_NAME} PRIVATE ${B_LIBS} benchmark::benchmark)
  if(SONIC_BUILD_TESTS)
    add_test(NAME ${B_NAME}.smoke
             COMMAND ${B_NAME} --benchmark_min_time=0.001 ${B_SMOKE_ARGS})
    set_tests_properties(${B_NAME}.smoke PROPERTIES LABELS bench-smoke TIMEOUT 600)
  endif()
endfunction()
