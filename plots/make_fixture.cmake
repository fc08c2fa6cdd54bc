# Writes the plots' fixture: two runs of a short sweep appended to one file.
file(REMOVE ${OUT})
foreach(pass 1 2)
  set(append "")
  if(pass EQUAL 2)
    set(append --append)
  endif()
  execute_process(
    COMMAND ${SONICBENCH} sweep --backend null,reference --model jet_cnn --batch 1-4*2
            --concurrency 1,2 --warmup-s 0.1 --min-duration-s 0.3 --min-requests 5
            --max-duration-s 2 --no-peak --out ${OUT} ${append}
    RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "fixture sweep ${pass} failed with status ${status}")
  endif()
endforeach()
