# Writes OUTPUT: a C++ file defining sonic::cl::KernelSource() as the concatenation of SOURCES
# (the .cl files, in order), so that the program needs no file at run time. Run with cmake -P.
set(text "")
foreach(source IN LISTS SOURCES)
  file(READ ${source} content)
  get_filename_component(name ${source} NAME)
  string(APPEND text "// ---- ${name} ----\n${content}\n")
endforeach()
# A raw string literal needs no escaping; the delimiter cannot occur in OpenCL C.
file(WRITE ${OUTPUT}.tmp
  "// Generated from backends/opencl/kernels/*.cl by embed_kernels.cmake: do not edit.\n"
  "#include \"backends/opencl/cl_runtime.h\"\n\n"
  "namespace sonic::cl {\n\n"
  "std::string_view KernelSource() {\n"
  "  static constexpr char kSource[] = R\"sonic_cl(${text})sonic_cl\";\n"
  "  return {kSource, sizeof(kSource) - 1};\n"
  "}\n\n"
  "}  // namespace sonic::cl\n")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUTPUT}.tmp)
