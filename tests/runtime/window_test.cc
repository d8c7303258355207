// Tests of request validation and reply placement (src/runtime/window.c),
// built for the host. The header is the host's: every field may be hostile.
#include "runtime/window.h"

#include <cstdint>

#include <gtest/gtest.h>

namespace {

constexpr uint64_t kCapacity = 1 << 20;

confide_window Valid() {
  confide_window w{};
  w.magic = CONFIDE_WINDOW_MAGIC;
  w.capacity = kCapacity;
  w.op = CONFIDE_OP_RUN;
  w.input_offset = CONFIDE_WINDOW_DATA;
  w.input_len = 100;
  return w;
}

confide_request Request(uint64_t input_offset, uint64_t input_len) {
  confide_request req{};
  req.capacity = kCapacity;
  req.input_offset = input_offset;
  req.input_len = input_len;
  return req;
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
  w.op = 3;  // neither RUN nor CHAIN
  EXPECT_EQ(Check(w), CONFIDE_STATUS_BAD_REQUEST);
  w = Valid();
  w.flags = 0x8;  // an unknown flag
  EXPECT_EQ(Check(w), CONFIDE_STATUS_BAD_REQUEST);
  w.flags = CONFIDE_WINDOW_SEALED_INPUT | CONFIDE_WINDOW_SEALED_OUTPUT | CONFIDE_WINDOW_DATA_PLUGIN;
  EXPECT_EQ(Check(w), CONFIDE_STATUS_OK);
  w = Valid();
  w.capacity = CONFIDE_WINDOW_MAX_SIZE + CONFIDE_WINDOW_DATA;
  EXPECT_EQ(Check(w), CONFIDE_STATUS_BAD_REQUEST);
  w.capacity = CONFIDE_WINDOW_DATA + CONFIDE_WINDOW_LOG_SCRATCH - 1;  // no room for the log
  w.input_len = 0;
  EXPECT_EQ(Check(w), CONFIDE_STATUS_BAD_REQUEST);
  w.capacity = CONFIDE_WINDOW_MAX_SIZE;
  EXPECT_EQ(Check(w), CONFIDE_STATUS_OK);
}

TEST(WindowTest, ChainStepsMustLieInTheDataArea) {
  confide_window w = Valid();
  w.op = CONFIDE_OP_CHAIN;
  w.flags = CONFIDE_WINDOW_SEALED_OUTPUT;
  w.step_count = 3;
  w.steps_offset = kCapacity - 3 * sizeof(confide_chain_step);
  w.key_id[31] = 7;
  confide_request req{};
  ASSERT_EQ(confide_window_check(&w, &req), CONFIDE_STATUS_OK);
  EXPECT_EQ(req.op, uint64_t{CONFIDE_OP_CHAIN});
  EXPECT_EQ(req.flags, CONFIDE_WINDOW_SEALED_OUTPUT);
  EXPECT_EQ(req.step_count, 3u);
  EXPECT_EQ(req.steps_offset, w.steps_offset);
  EXPECT_EQ(req.key_id[31], 7);

  w.steps_offset += 1;  // the last step would end past the window
  EXPECT_EQ(Check(w), CONFIDE_STATUS_BAD_REQUEST);
  w.steps_offset = CONFIDE_WINDOW_DATA - 16;  // in the header page
  EXPECT_EQ(Check(w), CONFIDE_STATUS_BAD_REQUEST);
  w.steps_offset = CONFIDE_WINDOW_DATA;
  w.step_count = 0;
  EXPECT_EQ(Check(w), CONFIDE_STATUS_BAD_REQUEST);
  w.step_count = CONFIDE_MAX_PLUGINS + 1;
  EXPECT_EQ(Check(w), CONFIDE_STATUS_BAD_REQUEST);
  w.step_count = UINT64_MAX / 8;  // count * size wraps without the count bound
  EXPECT_EQ(Check(w), CONFIDE_STATUS_BAD_REQUEST);
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
  confide_request req = Request(4096, 100);
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
  confide_request req = Request(4096, 100);
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
