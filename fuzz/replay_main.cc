// main() for the replay build of a fuzz target (the libzmq pattern: every ctest run replays the
// committed corpus; reliability.md T10).
//
//   <target>-replay PATH...
//
// Runs LLVMFuzzerTestOneInput once on every regular file in each PATH (a directory, read
// recursively in name order, or a single file, e.g. a crash saved by libFuzzer). Each input is
// copied into a buffer of exactly its size, so a sanitizer build sees over-reads. Fails (exit 1)
// if a directory is missing or holds no files; a violated invariant aborts inside the target.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

bool ReadFile(const fs::path& path, std::vector<char>* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

bool Replay(const fs::path& path) {
  std::vector<char> contents;
  if (!ReadFile(path, &contents)) {
    std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
    return false;
  }
  const size_t size = contents.size();
  std::unique_ptr<uint8_t[]> exact(new uint8_t[size]);  // non-null even for size 0, as libFuzzer
  std::copy(contents.begin(), contents.end(), exact.get());
  LLVMFuzzerTestOneInput(exact.get(), size);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
    return 2;
  }
  size_t total = 0;
  for (int i = 1; i < argc; ++i) {
    const fs::path arg(argv[i]);
    std::error_code ec;
    if (fs::is_regular_file(arg, ec)) {
      if (!Replay(arg)) return 1;
      ++total;
      continue;
    }
    if (!fs::is_directory(arg, ec)) {
      std::fprintf(stderr, "replay: %s is not a directory or file\n", argv[i]);
      return 1;
    }
    std::vector<fs::path> files;
    for (fs::recursive_directory_iterator it(arg, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file(ec)) files.push_back(it->path());
    }
    if (ec) {
      std::fprintf(stderr, "replay: cannot list %s: %s\n", argv[i], ec.message().c_str());
      return 1;
    }
    if (files.empty()) {
      std::fprintf(stderr, "replay: %s holds no inputs\n", argv[i]);
      return 1;
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      if (!Replay(file)) return 1;
    }
    std::printf("replay: %zu inputs from %s\n", files.size(), argv[i]);
    total += files.size();
  }
  std::printf("replay: %zu inputs, all passed\n", total);
  return 0;
}
