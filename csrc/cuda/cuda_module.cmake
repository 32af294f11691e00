# dgkernels._cuda: included by cmake/cuda.cmake when DGKERNELS_CUDA is ON and nvcc is found.
# Static cudart (imports without a driver), sm_80 + sm_90 machine code plus compute_90 PTX, no FMA
# contraction in device code (--fmad=false) or host code (-ffp-contract=off), no fast-math; IEEE division
# and sqrt (-prec-div/-prec-sqrt default to true without --use_fast_math; stated explicitly below).
enable_language(CUDA)
set(DGK_CUDA_ARCHS "80-real;90-real;90-virtual" CACHE STRING "CUDA architectures of dgkernels._cuda")
set(_dgk_cuda_dir "${CMAKE_CURRENT_SOURCE_DIR}/csrc/cuda")
python_add_library(_cuda MODULE
  "${_dgk_cuda_dir}/module.cpp"
  "${_dgk_cuda_dir}/host.cu"
  "${_dgk_cuda_dir}/kernels_decode.cu"
  "${_dgk_cuda_dir}/kernels_encode_a.cu"
  "${_dgk_cuda_dir}/kernels_encode_k.cu"
  "${_dgk_cuda_dir}/kernels_encode_iq.cu"
  "${_dgk_cuda_dir}/iq_index.cpp"
  "${CMAKE_CURRENT_SOURCE_DIR}/csrc/formats/common/iq2_grid_index.cpp"
  "${CMAKE_CURRENT_SOURCE_DIR}/csrc/formats/common/iq3_grid_index.cpp"
  "${CMAKE_CURRENT_SOURCE_DIR}/csrc/core/tables.cpp"
  WITH_SOABI)
target_include_directories(_cuda PRIVATE csrc/include csrc "${_dgk_cuda_dir}/include")
target_link_libraries(_cuda PRIVATE pybind11::headers)
set_target_properties(_cuda PROPERTIES
  CUDA_ARCHITECTURES "${DGK_CUDA_ARCHS}"
  CUDA_RUNTIME_LIBRARY Static
  CUDA_STANDARD 17
  CUDA_STANDARD_REQUIRED ON
  CXX_VISIBILITY_PRESET hidden
  CUDA_VISIBILITY_PRESET hidden)
string(REPLACE ";" "," _dgk_archs_str "${DGK_CUDA_ARCHS}")
target_compile_definitions(_cuda PRIVATE "DGKC_ARCHS_STRING=\"${_dgk_archs_str}\"")
target_compile_options(_cuda PRIVATE
  $<$<COMPILE_LANGUAGE:CUDA>:--fmad=false -prec-div=true -prec-sqrt=true -ftz=false -Xcompiler=-ffp-contract=off -Xcompiler=-fno-fast-math>
  $<$<COMPILE_LANGUAGE:CXX>:-ffp-contract=off -fno-fast-math>)
install(TARGETS _cuda DESTINATION dgkernels)
message(STATUS "dgkernels: building the CUDA extension (archs ${DGK_CUDA_ARCHS})")
