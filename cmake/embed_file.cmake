# cmake -DINPUT=file -DOUTPUT=file.cc -DSYMBOL=name -DNAMESPACE=ns -P embed_file.cmake
# Writes a C++ source defining `std::span<const uint8_t> ns::name()` over the
# bytes of INPUT, so a binary can carry a small file without reading it at run
# time.
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR size "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n" bytes "${bytes}")
file(WRITE "${OUTPUT}.tmp"
"// Generated from ${INPUT} by cmake/embed_file.cmake. Do not edit.
#include <cstdint>
#include <span>
namespace ${NAMESPACE} {
namespace {
alignas(16) constexpr uint8_t kData[${size}] = {
${bytes}
};
}  // namespace
std::span<const uint8_t> ${SYMBOL}() { return kData; }
}  // namespace ${NAMESPACE}
")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
