#include "store/keyframe.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace portwatch::store {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<int64_t> RoundTrip(const std::vector<int64_t>& ids) {
  const std::vector<uint8_t> bytes = EncodeKeyframe(ids);
  std::optional<std::vector<int64_t>> decoded = DecodeKeyframe(bytes);
  EXPECT_TRUE(decoded.has_value());
  return decoded.value_or(std::vector<int64_t>{-1});
}

TEST(Keyframe, EmptySetIsEmptyBytes) {
  EXPECT_THAT(EncodeKeyframe({}), IsEmpty());
  EXPECT_THAT(RoundTrip({}), IsEmpty());
}

TEST(Keyframe, SmallIdsTakeOneByteEach) {
  const std::vector<int64_t> ids = {1, 2, 3, 5, 8, 13, 21, 34, 55, 89};
  EXPECT_EQ(EncodeKeyframe(ids).size(), ids.size());
  EXPECT_EQ(RoundTrip(ids), ids);
}

TEST(Keyframe, EncodesDeltasAsLeb128) {
  EXPECT_THAT(EncodeKeyframe(std::vector<int64_t>{1, 129, 130}),
              ElementsAre(0x01, 0x80, 0x01, 0x01));
  EXPECT_THAT(EncodeKeyframe(std::vector<int64_t>{300}), ElementsAre(0xAC, 0x02));
}

TEST(Keyframe, RoundTripsLargeGaps) {
  const std::vector<int64_t> ids = {1,
                                    127,
                                    128,
                                    16'383,
                                    16'384,
                                    int64_t{1} << 32,
                                    (int64_t{1} << 56) + 3,
                                    (int64_t{1} << 62),
                                    std::numeric_limits<int64_t>::max() - 1,
                                    std::numeric_limits<int64_t>::max()};
  EXPECT_EQ(RoundTrip(ids), ids);
  EXPECT_EQ(RoundTrip({std::numeric_limits<int64_t>::max()}),
            std::vector<int64_t>{std::numeric_limits<int64_t>::max()});
}

TEST(Keyframe, RoundTripsAHundredThousandIds) {
  std::mt19937_64 random(7);
  std::vector<int64_t> ids;
  int64_t id = 0;
  for (int i = 0; i < 100'000; ++i) {
    // Mostly dense, now and then a long jump, as rows of long-lived and short-lived sockets mix.
    id += (i % 1000 == 0) ? static_cast<int64_t>(random() % 10'000'000) + 1
                          : static_cast<int64_t>(random() % 4) + 1;
    ids.push_back(id);
  }
  const std::vector<uint8_t> bytes = EncodeKeyframe(ids);
  EXPECT_LT(bytes.size(), ids.size() * 2);  // about a byte per nearby id
  std::optional<std::vector<int64_t>> decoded = DecodeKeyframe(bytes);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, ids);
}

TEST(Keyframe, TruncatedInputIsRejected) {
  const std::vector<uint8_t> bytes = EncodeKeyframe(std::vector<int64_t>{5, 1'000'000});
  ASSERT_GT(bytes.size(), 2u);
  for (size_t keep = 2; keep < bytes.size(); ++keep) {
    const std::vector<uint8_t> truncated(bytes.begin(), bytes.begin() + static_cast<long>(keep));
    EXPECT_FALSE(DecodeKeyframe(truncated).has_value()) << keep << " bytes";
  }
  EXPECT_FALSE(DecodeKeyframe(std::vector<uint8_t>{0x80}).has_value());
  EXPECT_FALSE(DecodeKeyframe(std::vector<uint8_t>{0x01, 0xFF, 0xFF}).has_value());
}

TEST(Keyframe, OverlongVarintIsRejected) {
  // Ten bytes: more than the 63 bits a positive delta needs.
  std::vector<uint8_t> overlong(9, 0x80);
  overlong.push_back(0x01);
  EXPECT_FALSE(DecodeKeyframe(overlong).has_value());
  std::vector<uint8_t> endless(64, 0xFF);
  endless.push_back(0x00);
  EXPECT_FALSE(DecodeKeyframe(endless).has_value());
}

TEST(Keyframe, SumPastTheLargestIdIsRejected) {
  // Two valid nine-byte deltas of 2^63 - 1 each: the running id would overflow int64.
  std::vector<uint8_t> bytes;
  for (int id = 0; id < 2; ++id) {
    for (int i = 0; i < 8; ++i) bytes.push_back(0xFF);
    bytes.push_back(0x7F);
  }
  EXPECT_FALSE(DecodeKeyframe(bytes).has_value());
}

}  // namespace
}  // namespace portwatch::store
