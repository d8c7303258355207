// Tests of request validation and reply placement (src/runtime/window.c),
// built for the host. The header is the host's: every field may be hostile.
#include "runtime/window.h"

#include <cstdint>

#include <gtest/gtest.h>

namespace {

constexpr uint64_t kCapacity = 1 << 20;

confide_window Valid() {
  return confide_window{.magic = CONFIDE_WINDOW_MAGIC,
                        .capacity = kCapacity,
                        .op = CONFIDE_OP_RUN,
                        .input_offset = CONFIDE_WINDOW_DATA,
                        .input_len = 100,
                        .output_offset = 0,
                        .output_len = 0};
}

int Check(const confide_window& w) {
  confide_request req;
  return confide_window_check(&w, &req);
}

TEST(WindowTest, AcceptsAValidRequest) {
  confide_window w = Valid();
  confide_request req{};
  ASSERT_EQ(confide_window_check(&w, &req), CONFIDE_STATUS_OK);
  EXPECT_EQ(req.capacity, kCapacity);
  EXPECT_EQ(req.input_offset, CONFIDE_WINDOW_DATA);
  EXPECT_EQ(req.input_len, 100u);
}

TEST(WindowTest, RejectsBadHeaders) {
  confide_window w = Valid();
  w.magic ^= 1;
  EXPECT_EQ(Check(w), CONFIDE_STATUS_BAD_REQUEST);
  w = Valid();
  w.op = 2;
  EXPECT_EQ(Check(w), CONFIDE_STATUS_BAD_REQUEST);
  w = Valid();
  w.capacity = CONFIDE_WINDOW_MAX_SIZE + CONFIDE_WINDOW_DATA;
  EXPECT_EQ(Check(w), CONFIDE_STATUS_BAD_REQUEST);
  w.capacity = CONFIDE_WINDOW_DATA + CONFIDE_WINDOW_LOG_SCRATCH - 1;  // no room for the log
  w.input_len = 0;
  EXPECT_EQ(Check(w), CONFIDE_STATUS_BAD_REQUEST);
  w.capacity = CONFIDE_WINDOW_MAX_SIZE;
  EXPECT_EQ(Check(w), CONFIDE_STATUS_OK);
}

TEST(WindowTest, InputMustLieInTheDataArea) {
  confide_window w = Valid();
  w.input_offset = CONFIDE_WINDOW_DATA - 1;
  EXPECT_EQ(Check(w), CONFIDE_STATUS_BAD_REQUEST);
  w.input_offset = kCapacity + 1;
  w.input_len = 0;
  EXPECT_EQ(Check(w), CONFIDE_STATUS_BAD_REQUEST);
  w.input_offset = kCapacity;  // empty, at the very end: fine
  EXPECT_EQ(Check(w), CONFIDE_STATUS_OK);
  w.input_offset = CONFIDE_WINDOW_DATA;
  w.input_len = kCapacity - CONFIDE_WINDOW_DATA;
  EXPECT_EQ(Check(w), CONFIDE_STATUS_OK);
  w.input_len++;
  EXPECT_EQ(Check(w), CONFIDE_STATUS_BAD_REQUEST);
  // Sums that would wrap.
  w.input_offset = UINT64_MAX;
  w.input_len = 2;
  EXPECT_EQ(Check(w), CONFIDE_STATUS_BAD_REQUEST);
  w.input_offset = CONFIDE_WINDOW_DATA;
  w.input_len = UINT64_MAX - CONFIDE_WINDOW_DATA + 1;
  EXPECT_EQ(Check(w), CONFIDE_STATUS_BAD_REQUEST);
}

TEST(WindowTest, OutputGoesToTheNextPageAfterTheInput) {
  confide_request req{.capacity = kCapacity, .input_offset = 4096, .input_len = 100};
  uint64_t offset = 0;
  ASSERT_EQ(confide_window_place_output(&req, 10, &offset), CONFIDE_STATUS_OK);
  EXPECT_EQ(offset, 8192u);
  req.input_len = 4096;
  ASSERT_EQ(confide_window_place_output(&req, 10, &offset), CONFIDE_STATUS_OK);
  EXPECT_EQ(offset, 8192u);
  req.input_len = 0;
  ASSERT_EQ(confide_window_place_output(&req, 0, &offset), CONFIDE_STATUS_OK);
  EXPECT_EQ(offset, 4096u);
}

TEST(WindowTest, OutputMustNotReachTheLogScratchArea) {
  confide_request req{.capacity = kCapacity, .input_offset = 4096, .input_len = 100};
  uint64_t limit = kCapacity - CONFIDE_WINDOW_LOG_SCRATCH;
  uint64_t offset = 0;
  EXPECT_EQ(confide_window_place_output(&req, limit - 8192, &offset), CONFIDE_STATUS_OK);
  EXPECT_EQ(confide_window_place_output(&req, limit - 8192 + 1, &offset), CONFIDE_STATUS_NO_MEMORY);
  EXPECT_EQ(confide_window_place_output(&req, UINT64_MAX, &offset), CONFIDE_STATUS_NO_MEMORY);
  req.input_len = kCapacity - 4096;  // the input fills the window: no room at all
  EXPECT_EQ(confide_window_place_output(&req, 0, &offset), CONFIDE_STATUS_NO_MEMORY);
  EXPECT_EQ(confide_window_log_offset(kCapacity), limit);
}

}  // namespace
