// The three regions of RecNS (ALGORITHMS §5) through distributed co-item rows.
//
// The co-item row of item j is C(j) = the items that share a user with j (j included when j has
// a user). A walk u -> i -> u' -> j adds C(i) to what u reaches, so for odd khop = 2m+1 the
// intermediate region is R(u) = C^m(I_u) \ I_u. A user without training items reaches nothing:
// its intermediate region is empty and its distant and global regions are the whole catalogue.
//
// Build, on every rank:
//   1. the partial rows C_r(j) of its own users go to j's owner, which merges them into C(j);
//   2. it fetches from the owners the rows it needs: those of its users' items for khop 3, every
//      row for khop >= 5 (whose expansions reach most of the catalogue; memory is checked first,
//      and khop >= 5 is meant for small and medium catalogues);
//   3. per user it unions the rows into a scratch bitset, which gives |region| exactly, and keeps
//      either the region as a sorted list (when small: rejection would be slow and the list is
//      cheap), or nothing (khop 3: membership is tested through the rows of the user's items),
//      or the intermediate region as a bitset (khop >= 5, where tests through rows would be
//      costly). The choice depends only on the user's sizes and the catalogue, so every rank
//      count draws the same items.
// Rows larger than n_items/32 are bitsets (cheaper than the list then), the others sorted lists.
// Why not a bitset per user at khop 3: on a catalogue of 227k items and 434k users whose region
// averages half the catalogue, those take 5.75 GiB per rank at 2 ranks, while the co-item rows of
// the rank's items take under 1 GiB. Each step of khop >= 5 visits, per user, either the rows of
// the items newly reached or a row per item not yet reached: about the catalogue's worth of rows
// per user, hence small and medium catalogues.
#include "recns/region.hpp"

#include <mpi.h>

#include <algorithm>
#include <string>
#include <unordered_set>
#include <vector>

#include "recns/error.hpp"
#include "recns/graph.hpp"
#include "recns/layout.hpp"

namespace recns {

const char* const kRegionKindNames[] = {"intermediate", "distant", "global"};

namespace {

// MPI counts are int; larger transfers go as several messages (tags 0, 1, ...: 32767 tags, the
// least MPI guarantees, cover 2^43 elements).
constexpr int64_t kMessageElements = int64_t(1) << 28;

// The floors keep both sides of each cut reachable on small catalogues, where either form is
// cheap anyway.
int64_t BigRowCut(int64_t num_items) { return std::max<int64_t>(num_items / 32, 8); }
int64_t ListCut(int64_t num_items) { return std::max<int64_t>(num_items / 256, 16); }
int64_t WordsFor(int64_t num_items) { return (num_items + 31) / 32; }

inline bool TestBit(const uint32_t* words, uint32_t item) {
  return (words[item >> 5] >> (item & 31)) & 1u;
}
inline void SetBit(uint32_t* words, uint32_t item) { words[item >> 5] |= 1u << (item & 31); }
inline void ClearBit(uint32_t* words, uint32_t item) { words[item >> 5] &= ~(1u << (item & 31)); }

int64_t PopCount(const std::vector<uint32_t>& words) {
  int64_t count = 0;
  for (uint32_t w : words) count += __builtin_popcount(w);
  return count;
}

// A row record is [item, |C(item)|, payload]: the sorted items, or a bitset of WordsFor(n) words
// when |C(item)| > BigRowCut(n). Records are what ranks exchange and what they keep.
int64_t PayloadLength(uint32_t count, int64_t big_cut, int64_t words) {
  return (int64_t)count > big_cut ? words : (int64_t)count;
}

bool RecordHas(const uint32_t* record, uint32_t item, int64_t big_cut) {
  const uint32_t count = record[1];
  const uint32_t* payload = record + 2;
  if ((int64_t)count > big_cut) return TestBit(payload, item);
  return std::binary_search(payload, payload + count, item);
}

/// True when the record's row and the bitset `reach` (of `words` words) share an item.
bool RecordMeets(const uint32_t* record, const uint32_t* reach, int64_t big_cut, int64_t words) {
  const uint32_t count = record[1];
  const uint32_t* payload = record + 2;
  if ((int64_t)count > big_cut) {
    for (int64_t w = 0; w < words; ++w)
      if (payload[w] & reach[w]) return true;
    return false;
  }
  for (uint32_t k = 0; k < count; ++k)
    if (TestBit(reach, payload[k])) return true;
  return false;
}

void OrRecord(const uint32_t* record, int64_t big_cut, std::vector<uint32_t>* scratch) {
  const uint32_t count = record[1];
  const uint32_t* payload = record + 2;
  uint32_t* words = scratch->data();
  if ((int64_t)count > big_cut) {
    const size_t n = scratch->size();
    for (size_t w = 0; w < n; ++w) words[w] |= payload[w];
  } else {
    for (uint32_t k = 0; k < count; ++k) SetBit(words, payload[k]);
  }
}

/// Collective. The counts each rank will receive from every rank.
PetscErrorCode ExchangeCounts(MPI_Comm comm, const std::vector<int64_t>& send_counts,
                              std::vector<int64_t>* recv_counts) {
  PetscFunctionBeginUser;
  recv_counts->assign(send_counts.size(), 0);
  PetscCallMPI(MPI_Alltoall(send_counts.data(), 1, MPI_INT64_T, recv_counts->data(), 1,
                            MPI_INT64_T, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/// Collective. Segment r of `send` (in rank order, lengths `send_counts`) goes to rank r; `recv`
/// gets every rank's segment in rank order.
PetscErrorCode ExchangeData(MPI_Comm comm, const std::vector<uint32_t>& send,
                            const std::vector<int64_t>& send_counts,
                            const std::vector<int64_t>& recv_counts, std::vector<uint32_t>* recv) {
  PetscMPIInt rank, size;
  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  int64_t total = 0;
  for (int64_t c : recv_counts) total += c;
  recv->clear();
  recv->shrink_to_fit();
  recv->resize((size_t)total);
  std::vector<MPI_Request> requests;
  int64_t send_at = 0, recv_at = 0;
  for (int r = 0; r < size; ++r) {
    if (r == rank) {
      PetscCheck(send_counts[r] == recv_counts[r], PETSC_COMM_SELF, PETSC_ERR_PLIB,
                 "a rank's message to itself changed length");
      std::copy(send.begin() + send_at, send.begin() + send_at + send_counts[r],
                recv->begin() + recv_at);
    } else {
      int tag = 0;
      for (int64_t done = 0; done < recv_counts[r]; done += kMessageElements, ++tag) {
        requests.emplace_back();
        PetscCallMPI(MPI_Irecv(recv->data() + recv_at + done,
                               (int)std::min(kMessageElements, recv_counts[r] - done),
                               MPI_UINT32_T, r, tag, comm, &requests.back()));
      }
      tag = 0;
      for (int64_t done = 0; done < send_counts[r]; done += kMessageElements, ++tag) {
        requests.emplace_back();
        PetscCallMPI(MPI_Isend(send.data() + send_at + done,
                               (int)std::min(kMessageElements, send_counts[r] - done),
                               MPI_UINT32_T, r, tag, comm, &requests.back()));
      }
    }
    send_at += send_counts[r];
    recv_at += recv_counts[r];
  }
  PetscCallMPI(MPI_Waitall((int)requests.size(), requests.data(), MPI_STATUSES_IGNORE));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/// Not collective. The records [j, |C_r(j)|, items] of this rank's users, for every item j one of
/// them has, in item order (hence grouped by owner rank), and their lengths per owner.
void PartialRows(const Graph& graph, std::vector<uint32_t>* send,
                 std::vector<int64_t>* send_counts) {
  const Layout& layout = graph.GetLayout();
  const int64_t num_items = layout.NumItems(), local_users = layout.LocalUsers();
  std::vector<int64_t> start((size_t)num_items + 1, 0);
  for (int64_t u = 0; u < local_users; ++u) {
    int64_t count;
    const int32_t* items = graph.TrainItems(u, &count);
    for (int64_t k = 0; k < count; ++k) ++start[items[k] + 1];
  }
  for (int64_t j = 0; j < num_items; ++j) start[j + 1] += start[j];
  std::vector<int32_t> users_of((size_t)start[num_items]);
  {
    std::vector<int64_t> cursor(start.begin(), start.end() - 1);
    for (int64_t u = 0; u < local_users; ++u) {
      int64_t count;
      const int32_t* items = graph.TrainItems(u, &count);
      for (int64_t k = 0; k < count; ++k) users_of[cursor[items[k]]++] = (int32_t)u;
    }
  }
  // Sized exactly first: the stream is the largest array of the build at scale, and growing it
  // by doubling would hold up to twice its size.
  std::vector<int32_t> stamp((size_t)num_items, -1);
  int64_t length = 0;
  for (int64_t j = 0; j < num_items; ++j) {
    if (start[j] == start[j + 1]) continue;
    length += 2;
    for (int64_t p = start[j]; p < start[j + 1]; ++p) {
      int64_t count;
      const int32_t* items = graph.TrainItems(users_of[p], &count);
      for (int64_t k = 0; k < count; ++k)
        if (stamp[items[k]] != j) stamp[items[k]] = (int32_t)j, ++length;
    }
  }
  std::fill(stamp.begin(), stamp.end(), -1);
  send->clear();
  send->reserve((size_t)length);
  send_counts->assign((size_t)layout.Size(), 0);
  for (int64_t j = 0; j < num_items; ++j) {
    if (start[j] == start[j + 1]) continue;
    const size_t at = send->size();
    send->push_back((uint32_t)j);
    send->push_back(0);
    for (int64_t p = start[j]; p < start[j + 1]; ++p) {
      int64_t count;
      const int32_t* items = graph.TrainItems(users_of[p], &count);
      for (int64_t k = 0; k < count; ++k)
        if (stamp[items[k]] != j) stamp[items[k]] = (int32_t)j, send->push_back((uint32_t)items[k]);
    }
    (*send)[at + 1] = (uint32_t)(send->size() - at - 2);
    (*send_counts)[layout.ItemOwner(j)] += (int64_t)(send->size() - at);
  }
}

/// Not collective. The owner's merged records of its items (an item without users has the empty
/// row), from every rank's partial records, and each owned item's record offset.
void MergeRows(const Layout& layout, const std::vector<uint32_t>& partial, int64_t big_cut,
               int64_t words, std::vector<uint32_t>* owned, std::vector<int64_t>* owned_at) {
  const int64_t local_items = layout.LocalItems(), item_begin = layout.ItemBegin();
  const int64_t total = (int64_t)partial.size();
  // Offsets of each owned item's partial records (one per rank that has users of it).
  std::vector<int64_t> start((size_t)local_items + 1, 0), partial_sum((size_t)local_items, 0);
  for (int64_t at = 0; at < total; at += 2 + partial[at + 1]) {
    ++start[partial[at] - item_begin + 1];
    partial_sum[partial[at] - item_begin] += partial[at + 1];
  }
  for (int64_t j = 0; j < local_items; ++j) start[j + 1] += start[j];
  std::vector<int64_t> records((size_t)start[local_items]);
  {
    std::vector<int64_t> cursor(start.begin(), start.end() - 1);
    for (int64_t at = 0; at < total; at += 2 + partial[at + 1])
      records[cursor[partial[at] - item_begin]++] = at;
  }
  int64_t bound = 0;
  for (int64_t j = 0; j < local_items; ++j)
    bound += 2 + std::max(std::min(partial_sum[j], big_cut), words);
  owned->clear();
  owned->reserve((size_t)bound);
  owned_at->assign((size_t)local_items, 0);
  std::vector<int32_t> stamp((size_t)layout.NumItems(), -1);
  std::vector<uint32_t> merged;
  for (int64_t j = 0; j < local_items; ++j) {
    merged.clear();
    for (int64_t r = start[j]; r < start[j + 1]; ++r) {
      const uint32_t* record = partial.data() + records[r];
      for (uint32_t k = 0; k < record[1]; ++k) {
        const uint32_t item = record[2 + k];
        if (stamp[item] != j) stamp[item] = (int32_t)j, merged.push_back(item);
      }
    }
    (*owned_at)[j] = (int64_t)owned->size();
    owned->push_back((uint32_t)(item_begin + j));
    owned->push_back((uint32_t)merged.size());
    if ((int64_t)merged.size() > big_cut) {
      const size_t at = owned->size();
      owned->resize(at + (size_t)words, 0);
      for (uint32_t item : merged) SetBit(owned->data() + at, item);
    } else {
      std::sort(merged.begin(), merged.end());
      owned->insert(owned->end(), merged.begin(), merged.end());
    }
  }
}

}  // namespace

struct ItemRegion::Storage {
  enum class Form : uint8_t { kList, kRows, kBitset };
  struct User {
    int64_t size = 0;  // |region|
    int64_t at = 0;    // offset in lists, bitsets or order, by form
    Form form = Form::kList;
  };
  int64_t num_items = 0, words = 0, big_cut = 0;
  std::vector<uint32_t> rows;     // row records held by this rank (kRows users need them)
  std::vector<int64_t> row_at;    // per item: its record's offset in rows, or -1
  std::vector<User> users;
  std::vector<uint32_t> lists;    // kList regions, sorted
  std::vector<uint32_t> bitsets;  // kBitset users' intermediate regions
  std::vector<int64_t> order;     // kRows users: their items' record offsets, largest row first

  int64_t Bytes() const {
    return (int64_t)(rows.capacity() * sizeof(uint32_t) + row_at.capacity() * sizeof(int64_t) +
                     users.capacity() * sizeof(User) + lists.capacity() * sizeof(uint32_t) +
                     bitsets.capacity() * sizeof(uint32_t) + order.capacity() * sizeof(int64_t));
  }
};

namespace {

/// Collective. Fetches from the owners the records of the items marked in `needed` into `rows`,
/// with each item's record offset in `row_at` (-1: not fetched); consumes `owned`. `extra_bytes`
/// is what the caller will allocate next, checked together with the records before they are sent.
PetscErrorCode FetchRows(MPI_Comm comm, const Layout& layout, const std::vector<char>& needed,
                         std::vector<uint32_t>* owned, const std::vector<int64_t>& owned_at,
                         uint64_t extra_bytes, const std::string& what, std::vector<uint32_t>* rows,
                         std::vector<int64_t>* row_at) {
  PetscFunctionBeginUser;
  const int64_t big_cut = BigRowCut(layout.NumItems()), words = WordsFor(layout.NumItems());
  const int size = layout.Size();
  const int64_t num_items = layout.NumItems(), item_begin = layout.ItemBegin();
  std::vector<uint32_t> asked;
  std::vector<int64_t> ask_counts((size_t)size, 0), asked_counts;
  for (int64_t j = 0; j < num_items; ++j)
    if (needed[j]) asked.push_back((uint32_t)j), ++ask_counts[layout.ItemOwner(j)];
  std::vector<uint32_t> requests;
  PetscCall(ExchangeCounts(comm, ask_counts, &asked_counts));
  PetscCall(ExchangeData(comm, asked, ask_counts, asked_counts, &requests));
  std::vector<int64_t> reply_counts((size_t)size, 0), incoming;
  int64_t reply_total = 0;
  {
    int64_t at = 0;
    for (int r = 0; r < size; ++r)
      for (int64_t end = at + asked_counts[r]; at < end; ++at) {
        const uint32_t* record = owned->data() + owned_at[requests[at] - item_begin];
        reply_counts[r] += 2 + PayloadLength(record[1], big_cut, words);
      }
    for (int64_t c : reply_counts) reply_total += c;
  }
  PetscCall(ExchangeCounts(comm, reply_counts, &incoming));
  int64_t incoming_total = 0;
  for (int64_t c : incoming) incoming_total += c;
  PetscCall(CheckMemoryNeed(
      comm, {(uint64_t)(incoming_total + reply_total) * sizeof(uint32_t) + extra_bytes}, what));
  std::vector<uint32_t> reply;
  reply.reserve((size_t)reply_total);
  for (uint32_t j : requests) {
    const uint32_t* record = owned->data() + owned_at[j - item_begin];
    reply.insert(reply.end(), record,
                 record + 2 + PayloadLength(record[1], big_cut, words));
  }
  owned->clear();
  owned->shrink_to_fit();
  PetscCall(ExchangeData(comm, reply, reply_counts, incoming, rows));
  row_at->assign((size_t)num_items, -1);
  for (int64_t at = 0; at < incoming_total;
       at += 2 + PayloadLength((*rows)[at + 1], big_cut, words))
    (*row_at)[(*rows)[at]] = at;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/// Collective. The co-item rows this rank needs for `khop` (those of its users' items for khop 3,
/// all for khop >= 5) into `rows`, each item's record offset in `row_at`; memory is checked first.
PetscErrorCode HoldCoItemRows(MPI_Comm comm, const Graph& graph, int khop,
                              std::vector<uint32_t>* rows, std::vector<int64_t>* row_at) {
  PetscFunctionBeginUser;
  const Layout& layout = graph.GetLayout();
  const int64_t num_items = layout.NumItems(), local_users = layout.LocalUsers();
  std::vector<uint32_t> partial, merged_input, owned;
  std::vector<int64_t> partial_counts, incoming, owned_at;
  PartialRows(graph, &partial, &partial_counts);
  PetscCall(ExchangeCounts(comm, partial_counts, &incoming));
  PetscCall(ExchangeData(comm, partial, partial_counts, incoming, &merged_input));
  partial = std::vector<uint32_t>();
  MergeRows(layout, merged_input, BigRowCut(num_items), WordsFor(num_items), &owned, &owned_at);
  merged_input = std::vector<uint32_t>();

  std::vector<char> needed((size_t)num_items, khop == 3 ? 0 : 1);
  for (int64_t u = 0; khop == 3 && u < local_users; ++u) {
    int64_t count;
    const int32_t* items = graph.TrainItems(u, &count);
    for (int64_t k = 0; k < count; ++k) needed[items[k]] = 1;
  }
  // The most the users' regions can take: every one a list at the cut, or for khop >= 5 a
  // bitset.
  const uint64_t per_user =
      (uint64_t)std::max(ListCut(num_items), khop == 3 ? 0 : WordsFor(num_items)) *
      sizeof(uint32_t);
  const std::string what =
      khop == 3 ? Format("the co-item rows and item regions of -sampler_recns_khop %d", khop)
                : Format("the co-item rows and item regions of -sampler_recns_khop %d (khop "
                         ">= 5 holds every co-item row on every rank, for small and medium "
                         "catalogues)",
                         khop);
  PetscCall(FetchRows(comm, layout, needed, &owned, owned_at, (uint64_t)local_users * per_user,
                      what, rows, row_at));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/// Floyd's algorithm (DrawDistinctBelow): m distinct indices uniform in [0, n), each appended
/// as item(index).
template <class ItemOf>
void FloydDraw(int64_t n, int m, RandomStream* stream, ItemOf item_of,
               std::vector<int32_t>* out) {
  std::vector<uint32_t> index;
  index.reserve((size_t)m);
  DrawDistinctBelow((uint32_t)n, (uint32_t)m, stream, &index);
  for (const uint32_t k : index) out->push_back(item_of(k));
}

}  // namespace

ItemRegion::ItemRegion() = default;
ItemRegion::~ItemRegion() = default;

PetscErrorCode ItemRegion::Build(const Graph& graph, int khop, RegionKind kind) {
  PetscFunctionBeginUser;
  const double start = MPI_Wtime();
  const Layout& layout = graph.GetLayout();
  RECNS_CHECK_INPUT(kind == RegionKind::kGlobal || (khop >= 3 && khop % 2 == 1), layout.Comm(),
                    "-sampler_recns_khop %d: the walk length must be odd and at least 3 "
                    "(3, 5, 7, ...)",
                    khop);
  graph_ = &graph;
  khop_ = khop;
  kind_ = kind;
  storage_ = std::make_unique<Storage>();
  Storage& s = *storage_;
  const int64_t num_items = layout.NumItems(), local_users = layout.LocalUsers();
  s.num_items = num_items;
  s.words = WordsFor(num_items);
  s.big_cut = BigRowCut(num_items);
  if (kind == RegionKind::kGlobal) {
    build_seconds_ = MPI_Wtime() - start;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  // A communicator of its own keeps the point-to-point messages apart from anyone else's.
  MPI_Comm comm;
  PetscCallMPI(MPI_Comm_dup(layout.Comm(), &comm));
  const PetscErrorCode held = HoldCoItemRows(comm, graph, khop, &s.rows, &s.row_at);
  PetscCallMPI(MPI_Comm_free(&comm));
  PetscCall(held);

  const int64_t list_cut = ListCut(num_items);
  const int steps = (khop - 1) / 2;
  std::vector<uint32_t> reach((size_t)s.words, 0), expanded, pulled;
  std::vector<uint32_t> frontier;
  if (khop > 3) expanded.assign((size_t)s.words, 0), pulled.assign((size_t)s.words, 0);
  s.users.resize((size_t)local_users);
  bool any_rows_user = false;
  for (int64_t u = 0; u < local_users; ++u) {
    int64_t count;
    const int32_t* items = graph.TrainItems(u, &count);
    if (khop == 3) {
      for (int64_t k = 0; k < count; ++k)
        OrRecord(s.rows.data() + s.row_at[items[k]], s.big_cut, &reach);
    } else {
      // C^m(I_u) = C^(m-1)(I_u) ∪ C(C^(m-1)(I_u) \ C^(m-2)(I_u)): each item is expanded once.
      for (int64_t k = 0; k < count; ++k) SetBit(reach.data(), (uint32_t)items[k]);
      for (int step = 0; step < steps; ++step) {
        frontier.clear();
        for (int64_t w = 0; w < s.words; ++w) {
          uint32_t fresh = reach[w] & ~expanded[w];
          expanded[w] |= fresh;
          for (; fresh; fresh &= fresh - 1)
            frontier.push_back((uint32_t)(w * 32 + __builtin_ctz(fresh)));
        }
        if (frontier.empty()) break;
        int64_t push_cost = 0;
        for (uint32_t j : frontier)
          push_cost += PayloadLength(s.rows[s.row_at[j] + 1], s.big_cut, s.words);
        // C is symmetric, so the step is also {i : C(i) meets the reach}: testing every item's
        // row stops at its first hit, about n_items / |reach| probes, far fewer than the
        // frontier's rows once the reach is a sizeable part of the catalogue.
        const int64_t reached = PopCount(reach);
        if (push_cost > num_items * (num_items / reached)) {
          // Every reached item has a user, hence is in its own row: only the others are tested.
          pulled = reach;
          for (int64_t w = 0; w < s.words; ++w)
            for (uint32_t missing = ~reach[w]; missing; missing &= missing - 1) {
              const int64_t i = w * 32 + __builtin_ctz(missing);
              if (i < num_items &&
                  RecordMeets(s.rows.data() + s.row_at[i], reach.data(), s.big_cut, s.words))
                SetBit(pulled.data(), (uint32_t)i);
            }
          reach.swap(pulled);
        } else {
          for (uint32_t j : frontier) OrRecord(s.rows.data() + s.row_at[j], s.big_cut, &reach);
        }
      }
      std::fill(expanded.begin(), expanded.end(), 0u);
    }
    for (int64_t k = 0; k < count; ++k) ClearBit(reach.data(), (uint32_t)items[k]);
    const int64_t reached = PopCount(reach);
    Storage::User& user = s.users[u];
    user.size = kind == RegionKind::kIntermediate ? reached : num_items - count - reached;
    if (user.size <= list_cut) {
      user.form = Storage::Form::kList;
      user.at = (int64_t)s.lists.size();
      if (kind == RegionKind::kDistant)
        for (int64_t k = 0; k < count; ++k) SetBit(reach.data(), (uint32_t)items[k]);
      for (int64_t w = 0; w < s.words; ++w) {
        uint32_t bits = kind == RegionKind::kIntermediate ? reach[w] : ~reach[w];
        for (; bits; bits &= bits - 1) {
          const int64_t item = w * 32 + __builtin_ctz(bits);
          if (item < num_items) s.lists.push_back((uint32_t)item);
        }
      }
    } else if (khop == 3) {
      user.form = Storage::Form::kRows;
      user.at = (int64_t)s.order.size();
      for (int64_t k = 0; k < count; ++k) s.order.push_back(s.row_at[items[k]]);
      std::sort(s.order.begin() + user.at, s.order.end(), [&](int64_t a, int64_t b) {
        return s.rows[a + 1] != s.rows[b + 1] ? s.rows[a + 1] > s.rows[b + 1] : a < b;
      });
      any_rows_user = true;
    } else {
      user.form = Storage::Form::kBitset;
      user.at = (int64_t)s.bitsets.size();
      s.bitsets.insert(s.bitsets.end(), reach.begin(), reach.end());
    }
    std::fill(reach.begin(), reach.end(), 0u);
  }
  if (!any_rows_user) {
    s.rows = std::vector<uint32_t>();
    s.row_at = std::vector<int64_t>();
  }
  s.lists.shrink_to_fit();
  s.bitsets.shrink_to_fit();
  s.order.shrink_to_fit();
  build_seconds_ = MPI_Wtime() - start;
  PetscFunctionReturn(PETSC_SUCCESS);
}

int64_t ItemRegion::Size(int64_t local_user) const {
  if (kind_ == RegionKind::kGlobal) {
    int64_t count;
    graph_->TrainItems(local_user, &count);
    return storage_->num_items - count;
  }
  return storage_->users[local_user].size;
}

bool ItemRegion::Contains(int64_t local_user, int32_t item) const {
  const Storage& s = *storage_;
  if (item < 0 || item >= s.num_items) return false;
  int64_t count;
  const int32_t* items = graph_->TrainItems(local_user, &count);
  const bool trained = std::binary_search(items, items + count, item);
  if (kind_ == RegionKind::kGlobal) return !trained;
  const Storage::User& user = s.users[local_user];
  if (user.form == Storage::Form::kList)
    return std::binary_search(s.lists.data() + user.at, s.lists.data() + user.at + user.size,
                              (uint32_t)item);
  if (trained) return false;
  bool reached = false;
  if (user.form == Storage::Form::kBitset) {
    reached = TestBit(s.bitsets.data() + user.at, (uint32_t)item);
  } else {
    for (int64_t k = 0; k < count && !reached; ++k)
      reached = RecordHas(s.rows.data() + s.order[user.at + k], (uint32_t)item, s.big_cut);
  }
  return reached == (kind_ == RegionKind::kIntermediate);
}

void ItemRegion::Draw(int64_t local_user, int m, RandomStream* stream,
                      std::vector<int32_t>* out) const {
  if (m <= 0) return;
  const Storage& s = *storage_;
  const int64_t size = Size(local_user);
  if (kind_ == RegionKind::kGlobal) {
    // The t-th unobserved item is t + k, k the number of training items a[p] with a[p] - p <= t.
    int64_t count;
    const int32_t* items = graph_->TrainItems(local_user, &count);
    FloydDraw(size, m, stream, [&](uint32_t t) {
      int64_t low = 0, high = count;
      while (low < high) {
        const int64_t mid = (low + high) / 2;
        if (items[mid] - mid <= (int64_t)t) low = mid + 1; else high = mid;
      }
      return (int32_t)(t + low);
    }, out);
    return;
  }
  const Storage::User& user = s.users[local_user];
  if (user.form == Storage::Form::kList) {
    const uint32_t* list = s.lists.data() + user.at;
    FloydDraw(size, m, stream, [&](uint32_t k) { return (int32_t)list[k]; }, out);
    return;
  }
  // Rejection slows down as the drawn items fill the region: past half of it, the region's
  // items are listed in order and drawn as a stored list would be.
  if (2 * (int64_t)m > size) {
    std::vector<int32_t> listed;
    listed.reserve((size_t)size);
    for (int32_t item = 0; item < s.num_items; ++item)
      if (Contains(local_user, item)) listed.push_back(item);
    FloydDraw(size, m, stream, [&](uint32_t k) { return listed[k]; }, out);
    return;
  }
  DrawnSet drawn;
  for (int got = 0; got < m;) {
    const uint32_t item = stream->NextBelow((uint32_t)s.num_items);
    if (Contains(local_user, (int32_t)item) && drawn.Insert(item)) {
      out->push_back((int32_t)item);
      ++got;
    }
  }
}

PetscErrorCode ItemRegion::Summarize(int64_t min_size, RegionSummary* summary) const {
  PetscFunctionBeginUser;
  PetscCheck(graph_, PETSC_COMM_SELF, PETSC_ERR_ORDER, "ItemRegion::Summarize before Build");
  const MPI_Comm comm = graph_->GetLayout().Comm();
  int64_t sums[2] = {0, 0}, low = INT64_MAX, high = 0;  // users, users below
  double total = 0, seconds = build_seconds_;
  int64_t bytes = storage_->Bytes();
  for (int64_t u = 0; u < graph_->GetLayout().LocalUsers(); ++u) {
    int64_t count;
    graph_->TrainItems(u, &count);
    if (count == 0) continue;
    const int64_t size = Size(u);
    ++sums[0];
    sums[1] += size < min_size;
    total += (double)size;
    low = std::min(low, size);
    high = std::max(high, size);
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_INT64_T, MPI_SUM, comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &total, 1, MPI_DOUBLE, MPI_SUM, comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &low, 1, MPI_INT64_T, MPI_MIN, comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &high, 1, MPI_INT64_T, MPI_MAX, comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &seconds, 1, MPI_DOUBLE, MPI_MAX, comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &bytes, 1, MPI_INT64_T, MPI_MAX, comm));
  *summary = RegionSummary{};
  summary->users = sums[0];
  summary->users_below = sums[1];
  summary->mean_size = sums[0] ? total / (double)sums[0] : 0;
  summary->min_size = sums[0] ? low : 0;
  summary->max_size = high;
  summary->build_seconds = seconds;
  summary->max_bytes = bytes;
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace recns
