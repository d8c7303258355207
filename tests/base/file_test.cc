#include "base/file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>

namespace confide {
namespace {

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "confide_file_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(FileTest, WritesAtomicallyWithTheMode) {
  const std::string path = dir_ + "/out";
  ASSERT_TRUE(WriteFileAtomically(path, AsBytes("first"), 0600).ok());
  ASSERT_TRUE(WriteFileAtomically(path, AsBytes("second"), 0600).ok());
  auto back = ReadFile(path);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(std::string(back->begin(), back->end()), "second");
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // No temporary file is left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), {}), 1);
}

TEST_F(FileTest, RefusesToWriteThroughAPlantedTempPath) {
  const std::string path = dir_ + "/key.pem";
  const std::string decoy = dir_ + "/decoy";
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  ASSERT_EQ(::symlink(decoy.c_str(), tmp.c_str()), 0);
  Status s = WriteFileAtomically(path, AsBytes("secret"), 0600);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(std::filesystem::exists(decoy));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(FileTest, ReadOfAMissingFileNamesIt) {
  auto r = ReadFile(dir_ + "/missing");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_NE(r.error().message.find("missing"), std::string::npos);
}

TEST_F(FileTest, WriteIntoAMissingDirectoryFailsCleanly) {
  Status s = WriteFileAtomically(dir_ + "/no/such/dir/out", AsBytes("x"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace confide
