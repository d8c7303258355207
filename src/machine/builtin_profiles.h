// builtin_profiles.h — the profiles/ JSON files compiled in (generated .cc).
//
// Thread-safety: immutable data.
#pragma once

#include <span>
#include <string_view>

namespace confide::machine {

struct BuiltinProfileText {
  std::string_view name;
  std::string_view json;
};
std::span<const BuiltinProfileText> BuiltinProfileTexts();

}  // namespace confide::machine
