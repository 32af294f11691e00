# Floating-point and ISA flags, in one place.
# Bit-exactness with ggml needs: no FMA contraction, no fast-math (see ../shared/DESIGN.md).
option(DGKERNELS_SANITIZE "Build with AddressSanitizer + UndefinedBehaviorSanitizer" OFF)

function(dgk_apply_fp_flags target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /fp:precise)
  else()
    target_compile_options(${target} PRIVATE -ffp-contract=off -fno-fast-math -fno-finite-math-only
                                             -Wall -Wextra)
  endif()
  if(DGKERNELS_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-sanitize-recover=undefined
                                             -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

# Only the AVX2 translation units get AVX2 code generation; never -march=native.
function(dgk_set_avx2_flags sources)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64|i.86" AND NOT MSVC)
    set_source_files_properties(${sources} PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-mf16c")
  endif()
endfunction()
