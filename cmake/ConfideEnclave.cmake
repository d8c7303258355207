# ConfideEnclave.cmake — builds code that runs inside an enclave: static,
# non-PIE x86-64 executables against musl, linked at CONFIDE_ENCLAVE_BASE
# (the runtime slot, image/enclave_abi.h).
#
#   confide_enclave_elf(NAME <name> SOURCES <.c and .S files>
#                       [LIBS <static libraries>] [INCLUDES <dirs>] [ENTRY <symbol>])
#
# produces ${CMAKE_CURRENT_BINARY_DIR}/<name>.elf and a target <name>_elf
# (built by default; its ELF_FILE property holds the path).
#
# The compiler is musl-gcc, driven by custom commands rather than a CMake
# target: the project's own C compiler may be clang with ASan and UBSan, and
# no sanitizer runtime, glibc startup file or host default option must reach
# enclave code. Header dependencies come from the compiler (-MD, DEPFILE).
#
# Addresses: the ELF is linked at 256 GiB (-Ttext-segment), out of reach of
# the small code model's 32-bit absolute addresses. So objects are compiled
# position independent (-fpie: RIP-relative) but linked as a plain static
# ET_EXEC at that fixed address (-static -no-pie; Debian's musl-gcc specs have
# no -static-pie), with --no-relax: musl's libc.a is PIC, and ld would
# otherwise rewrite its GOT loads into 32-bit immediates, which cannot hold
# such addresses. No PT_INTERP, PT_DYNAMIC or relocations result.
# Also: 4 KiB segment alignment (EPC pages), no build-id note, no RELRO
# (there is no dynamic loader to protect anything, and its page rounding
# only costs pages), -nostartfiles (the entry is the runtime's TCS entry,
# entry.S, not crt1's _start).

find_program(CONFIDE_MUSL_GCC musl-gcc)
if(NOT CONFIDE_MUSL_GCC)
  message(FATAL_ERROR "musl-gcc not found: the enclave runtime needs musl (apt-get install musl-tools musl-dev; tools/setup.sh does it)")
endif()

# The musl-gcc options for enclave code, as lists: compiling and linking.
# `confide image build --c` (src/cli) compiles with the same ones.
function(confide_enclave_flags cflags_var ldflags_var)
  set(base 0x4000000000)  # CONFIDE_ENCLAVE_BASE
  set(${cflags_var} -std=gnu11 -O2 -g -Wall -Wextra -Werror -fpie -fno-stack-protector PARENT_SCOPE)
  set(${ldflags_var} -static -nostartfiles -no-pie -Wl,-Ttext-segment=${base}
                     -Wl,-z,max-page-size=4096 -Wl,-z,norelro -Wl,-z,noexecstack
                     -Wl,--build-id=none -Wl,--no-relax PARENT_SCOPE)
endfunction()

# Compiles SOURCES (with INCLUDES) into objects under <name>.dir; sets
# <out_var> to their paths.
function(confide_enclave_objects out_var)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;INCLUDES" ${ARGN})
  confide_enclave_flags(cflags ldflags)
  set(includes -I${PROJECT_SOURCE_DIR}/src)
  foreach(dir ${ARG_INCLUDES})
    list(APPEND includes -I${dir})
  endforeach()
  set(objdir ${CMAKE_CURRENT_BINARY_DIR}/${ARG_NAME}.dir)
  file(MAKE_DIRECTORY ${objdir})
  set(objects)
  foreach(src ${ARG_SOURCES})
    get_filename_component(abs ${src} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    file(RELATIVE_PATH rel ${PROJECT_SOURCE_DIR} ${abs})
    string(REGEX REPLACE "[/.]" "_" stem ${rel})
    set(obj ${objdir}/${stem}.o)
    add_custom_command(
      OUTPUT ${obj}
      COMMAND ${CONFIDE_MUSL_GCC} ${cflags} ${includes}
              -MD -MF ${obj}.d -c ${abs} -o ${obj}
      DEPENDS ${abs}
      DEPFILE ${obj}.d
      COMMENT "Building enclave object ${rel} (${ARG_NAME})"
      VERBATIM)
    list(APPEND objects ${obj})
  endforeach()
  set(${out_var} ${objects} PARENT_SCOPE)
endfunction()

# confide_enclave_archive(NAME <name> SOURCES <files> [INCLUDES <dirs>]):
# <name>.a of enclave objects (a target <name>_archive, its ARCHIVE_FILE
# property the path), for code linked later, e.g. by `confide image build`.
function(confide_enclave_archive)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;INCLUDES" ${ARGN})
  confide_enclave_objects(objects NAME ${ARG_NAME} SOURCES ${ARG_SOURCES} INCLUDES ${ARG_INCLUDES})
  set(archive ${CMAKE_CURRENT_BINARY_DIR}/${ARG_NAME}.a)
  add_custom_command(
    OUTPUT ${archive}
    COMMAND ${CMAKE_COMMAND} -E rm -f ${archive}
    COMMAND ${CMAKE_AR} qcs ${archive} ${objects}
    DEPENDS ${objects}
    COMMENT "Archiving enclave objects ${ARG_NAME}.a"
    VERBATIM)
  add_custom_target(${ARG_NAME}_archive ALL DEPENDS ${archive})
  set_property(TARGET ${ARG_NAME}_archive PROPERTY ARCHIVE_FILE ${archive})
endfunction()

function(confide_enclave_elf)
  cmake_parse_arguments(ARG "" "NAME;ENTRY" "SOURCES;LIBS;INCLUDES" ${ARGN})
  if(NOT ARG_NAME OR NOT ARG_SOURCES)
    message(FATAL_ERROR "confide_enclave_elf: NAME and SOURCES are required")
  endif()
  if(NOT ARG_ENTRY)
    set(ARG_ENTRY confide_enclave_entry)
  endif()
  confide_enclave_flags(cflags ldflags)
  confide_enclave_objects(objects NAME ${ARG_NAME} SOURCES ${ARG_SOURCES} INCLUDES ${ARG_INCLUDES})

  set(elf ${CMAKE_CURRENT_BINARY_DIR}/${ARG_NAME}.elf)
  add_custom_command(
    OUTPUT ${elf}
    COMMAND ${CONFIDE_MUSL_GCC} ${ldflags} -Wl,-e,${ARG_ENTRY}
            -o ${elf} ${objects} ${ARG_LIBS} -lm
    DEPENDS ${objects} ${ARG_LIBS}
    COMMENT "Linking enclave ELF ${ARG_NAME}.elf"
    VERBATIM)
  add_custom_target(${ARG_NAME}_elf ALL DEPENDS ${elf})
  set_property(TARGET ${ARG_NAME}_elf PROPERTY ELF_FILE ${elf})
endfunction()
