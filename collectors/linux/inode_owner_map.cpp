#include "collectors/linux/inode_owner_map.h"

#include <bit>

namespace portwatch::collectors::linux {

namespace {

size_t Mix(uint64_t inode) {
  // Inodes are sequential; a multiplicative mix spreads neighbours over the table.
  return static_cast<size_t>((inode * 0x9E3779B97F4A7C15ull) >> 20);
}

}  // namespace

InodeOwnerMap::InodeOwnerMap(size_t expected_inodes)
    : slots_(std::bit_ceil(expected_inodes * 2 < 16 ? size_t{16} : expected_inodes * 2)) {
  entries_.reserve(expected_inodes);
}

size_t InodeOwnerMap::FindSlot(uint64_t inode) const {
  const size_t mask = slots_.size() - 1;
  size_t index = Mix(inode) & mask;
  while (slots_[index].inode != 0 && slots_[index].inode != inode) index = (index + 1) & mask;
  return index;
}

uint32_t InodeOwnerMap::Head(uint64_t inode) const {
  if (inode == 0) return kEnd;
  const Slot& slot = slots_[FindSlot(inode)];
  return slot.inode == inode ? slot.first : kEnd;
}

void InodeOwnerMap::Add(uint64_t inode, int32_t pid) {
  if (inode == 0) return;
  if ((used_ + 1) * 2 > slots_.size()) Grow();
  Slot& slot = slots_[FindSlot(inode)];
  if (slot.inode == inode && entries_[slot.last].pid == pid) return;  // another fd, same owner
  const auto entry = static_cast<uint32_t>(entries_.size());
  entries_.push_back({pid, kEnd});
  if (slot.inode == 0) {
    slot.inode = inode;
    slot.first = entry;
    ++used_;
  } else {
    entries_[slot.last].next = entry;
  }
  slot.last = entry;
}

void InodeOwnerMap::Grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.size() * 2, Slot{});
  for (const Slot& slot : old) {
    if (slot.inode != 0) slots_[FindSlot(slot.inode)] = slot;
  }
}

}  // namespace portwatch::collectors::linux
