# Every tests/unit/<module>_test.c, tests/stress/*.c and tests/regress/*.c is
# its own program and its own ctest test, run in its own process with a
# timeout, so a deadlock fails one test instead of hanging the suite.
#
# Unit tests link only their module's layer (weft_<module>) when it exists,
# so a test cannot lean on a layer above the one it tests.
# Labels: the directory (unit, stress, regress) and the module (and epoll
# for the second run of loop tests). A test whose
# source contains "WEFT_TEST_NO_TSAN" is labelled no-tsan (make test skips
# it under ThreadSanitizer; say why in the file).
set(WEFT_TEST_TIMEOUT 120)
if(CMAKE_BUILD_TYPE STREQUAL "TSan" OR CMAKE_BUILD_TYPE STREQUAL "ASan")
  set(WEFT_TEST_TIMEOUT 300)
endif()
foreach(kind unit stress regress)
  file(GLOB test_srcs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/${kind}/*.c)
  foreach(src ${test_srcs})
    get_filename_component(name ${src} NAME_WE)
    string(REGEX REPLACE "_.*$" "" module ${name})
    set(target test_${kind}_${name})
    add_executable(${target} ${src})
    set_target_properties(${target} PROPERTIES OUTPUT_NAME ${name} RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/${kind})
    target_include_directories(${target} PRIVATE ${CMAKE_SOURCE_DIR}/tests ${CMAKE_SOURCE_DIR}/src)
    if(kind STREQUAL "unit" AND TARGET weft_${module})
      target_link_libraries(${target} PRIVATE weft_${module})
    else()
      target_link_libraries(${target} PRIVATE weft_static)
    endif()
    target_link_libraries(${target} PRIVATE m)
    add_test(NAME ${kind}/${name} COMMAND ${target})
    file(READ ${src} body)
    set(labels ${kind} ${module})
    if(body MATCHES "WEFT_TEST_NO_TSAN")
      list(APPEND labels no-tsan)
    endif()
    set_tests_properties(${kind}/${name} PROPERTIES TIMEOUT ${WEFT_TEST_TIMEOUT} SKIP_RETURN_CODE 77 LABELS "${labels}")
    # Event loop and network tests run on both backends: the default test on
    # io_uring (where liburing is built in), a second one on epoll.
    if(module STREQUAL "io" OR module STREQUAL "net")
      if(URING_FOUND)
        set_tests_properties(${kind}/${name} PROPERTIES ENVIRONMENT "WEFT_LOOP_BACKEND=io_uring")
      endif()
      add_test(NAME ${kind}/${name}_epoll COMMAND ${target})
      set_tests_properties(${kind}/${name}_epoll PROPERTIES TIMEOUT ${WEFT_TEST_TIMEOUT} SKIP_RETURN_CODE 77
                           LABELS "${labels};epoll" ENVIRONMENT "WEFT_LOOP_BACKEND=epoll")
    endif()
    # The coroutine tests run a second time on the portable ucontext switch,
    # so the fallback stays tested on machines that use the assembly.
    if(kind STREQUAL "unit" AND module STREQUAL "coro" AND NOT WEFT_CORO_UCONTEXT)
      if(NOT TARGET weft_coro_ucontext)
        file(GLOB coro_srcs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/coro/*.c)
        add_library(weft_coro_ucontext STATIC ${coro_srcs})
        target_include_directories(weft_coro_ucontext PUBLIC ${CMAKE_SOURCE_DIR}/include PRIVATE ${CMAKE_SOURCE_DIR}/src)
        target_compile_definitions(weft_coro_ucontext PRIVATE WEFT_CORO_UCONTEXT=1)
        target_link_libraries(weft_coro_ucontext PUBLIC weft_sync weft_core Threads::Threads)
      endif()
      add_executable(${target}_ucontext ${src})
      set_target_properties(${target}_ucontext PROPERTIES OUTPUT_NAME ${name}_ucontext RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/${kind})
      target_include_directories(${target}_ucontext PRIVATE ${CMAKE_SOURCE_DIR}/tests ${CMAKE_SOURCE_DIR}/src)
      target_compile_definitions(${target}_ucontext PRIVATE WEFT_TEST_UCONTEXT=1)
      target_link_libraries(${target}_ucontext PRIVATE weft_coro_ucontext m)
      add_test(NAME ${kind}/${name}_ucontext COMMAND ${target}_ucontext)
      set_tests_properties(${kind}/${name}_ucontext PROPERTIES TIMEOUT ${WEFT_TEST_TIMEOUT} SKIP_RETURN_CODE 77 LABELS "${labels};ucontext")
    endif()
  endforeach()
endforeach()

# The installed library, headers, pkg-config file and CMake package, used as
# a user would (Release only: a sanitizer build's library needs its runtime).
if(CMAKE_BUILD_TYPE STREQUAL "Release")
  add_test(NAME install/pkgconfig
           COMMAND ${CMAKE_SOURCE_DIR}/tests/install/pkgconfig.sh ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR})
  set_tests_properties(install/pkgconfig PROPERTIES TIMEOUT 120 LABELS "install")
endif()

# End-to-end tests of the weft tool's subcommands (every build type: under
# TSan and ASan they run the instrumented tool).
if(TARGET weft)
  add_test(NAME e2e/etl COMMAND ${CMAKE_SOURCE_DIR}/tests/e2e/etl.sh $<TARGET_FILE:weft>)
  set_tests_properties(e2e/etl PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77 LABELS "e2e;etl")
  add_test(NAME e2e/serve COMMAND ${CMAKE_SOURCE_DIR}/tests/e2e/serve.sh $<TARGET_FILE:weft>)
  set_tests_properties(e2e/serve PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77 LABELS "e2e;net")
  add_test(NAME e2e/fetch COMMAND ${CMAKE_SOURCE_DIR}/tests/e2e/fetch.sh $<TARGET_FILE:weft>)
  set_tests_properties(e2e/fetch PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77 LABELS "e2e;net")
  add_test(NAME e2e/broker COMMAND ${CMAKE_SOURCE_DIR}/tests/e2e/broker.sh $<TARGET_FILE:weft>)
  set_tests_properties(e2e/broker PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77 LABELS "e2e")
  add_test(NAME e2e/pipeline COMMAND ${CMAKE_SOURCE_DIR}/tests/e2e/pipeline.sh $<TARGET_FILE:weft>)
  set_tests_properties(e2e/pipeline PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77 LABELS "e2e")
  add_test(NAME e2e/compare COMMAND ${CMAKE_SOURCE_DIR}/tests/e2e/compare.sh $<TARGET_FILE:weft>)
  set_tests_properties(e2e/compare PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77 LABELS "e2e")
endif()

# The fuzz targets; the AArch64 context switch, cross-built and run under
# qemu-user; and the coroutine tests under valgrind, which must follow
# every stack switch (Release only: none mixes with the sanitizer builds).
if(CMAKE_BUILD_TYPE STREQUAL "Release")
  # The libFuzzer targets (tests/fuzz/), built with clang, 20 s each.
  add_test(NAME fuzz/parsers COMMAND ${CMAKE_SOURCE_DIR}/tests/fuzz/run.sh ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR} 20)
  set_tests_properties(fuzz/parsers PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77 LABELS "fuzz;csv;net")
  add_test(NAME cross/aarch64 COMMAND ${CMAKE_SOURCE_DIR}/tests/cross/aarch64.sh ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR})
  set_tests_properties(cross/aarch64 PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77 LABELS "cross;coro")
  find_program(VALGRIND_EXECUTABLE valgrind)
  if(VALGRIND_EXECUTABLE)
    foreach(t coro_basic_test coro_overflow_test)
      add_test(NAME valgrind/${t} COMMAND ${VALGRIND_EXECUTABLE} -q --error-exitcode=1 $<TARGET_FILE:test_unit_${t}>)
      set_tests_properties(valgrind/${t} PROPERTIES TIMEOUT 300 LABELS "valgrind;coro")
    endforeach()
  endif()
endif()
