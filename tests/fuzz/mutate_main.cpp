// A small mutation driver for fuzz targets that clang 14 cannot build (its libFuzzer needs clang,
// and clang 14 cannot compile libstdc++'s std::expected). Built with g++ and ASan+UBSan by
// run.sh: it mutates the corpus files (bit flips, cuts, repeats, splices, and JSON tokens that
// almost parse) and feeds each result to LLVMFuzzerTestOneInput until the time is up. Not
// coverage guided, so weaker than libFuzzer; a crash prints the input in hex and aborts.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::string current;  // the input being run, printed by the abort handler

void print_current() {
  std::fprintf(stderr, "fuzz input (%zu bytes):", current.size());
  for (unsigned char c : current) std::fprintf(stderr, " %02x", c);
  std::fprintf(stderr, "\n");
}

const char* const kTokens[] = {"nul", "tru", "fals", "null", "true", "false", "\"", "\\", "{", "}", "[", "]", ":",
                               ",", "-", "1e999", "18446744073709551616", "-9223372036854775809", "0.5", "\"\\u0000\""};

std::string mutate(std::string s, const std::vector<std::string>& corpus, std::mt19937_64& rng) {
  auto pick = [&](std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng() % n); };
  const int steps = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < steps; ++i) {
    const std::size_t at = pick(s.size() + 1);
    switch (rng() % 6) {
      case 0:
        if (!s.empty()) s[pick(s.size())] ^= static_cast<char>(1u << (rng() % 8));
        break;
      case 1: s.erase(at, pick(s.size() - at + 1)); break;
      case 2: s.insert(at, kTokens[pick(std::size(kTokens))]); break;
      case 3: s.insert(at, 1, static_cast<char>(rng() % 256)); break;
      case 4: {
        const std::string& other = corpus[pick(corpus.size())];
        const std::size_t from = pick(other.size() + 1);
        s.insert(at, other.substr(from, pick(other.size() - from + 1)));
        break;
      }
      default:
        if (!s.empty()) s.insert(at, s.substr(pick(s.size()), 1 + pick(16)));
        break;
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <seconds> <corpus dir>\n", argv[0]);
    return 2;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(std::atoi(argv[1]));
  std::vector<std::string> corpus;
  for (const auto& entry : std::filesystem::directory_iterator(argv[2])) {
    std::ifstream in(entry.path(), std::ios::binary);
    corpus.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (corpus.empty()) corpus.emplace_back();
  std::set_terminate([] {
    print_current();
    std::abort();
  });
  std::mt19937_64 rng(0x5eed);
  uint64_t runs = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 256; ++i, ++runs) {
      current = mutate(corpus[rng() % corpus.size()], corpus, rng);
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(current.data()), current.size());
    }
  }
  std::printf("Done %llu runs (mutation driver)\n", static_cast<unsigned long long>(runs));
  return 0;
}
