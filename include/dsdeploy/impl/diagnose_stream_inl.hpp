// SPDX-License-Identifier: Apache-2.0
// Implementation of diagnose.hpp's streaming input: read_file_chunks and log_reader (a log of
// any size read line by line through the NCCL, vLLM and failure-line parsers in bounded memory).
#pragma once

#include <dsdeploy/detail/diagnose_text.hpp>
#include <dsdeploy/detail/line_splitter.hpp>
#include <dsdeploy/diagnose.hpp>
#include <dsdeploy/error.hpp>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

DSDEPLOY_INLINE void read_file_chunks(const std::filesystem::path& path, const std::function<void(std::string_view)>& on_chunk,
                                      std::size_t chunk_bytes) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        raise(errc::diagnose_input, path.string(), "is a folder; give the file that holds the tool's output or log");
    std::ifstream in(path, std::ios::binary);
    if (!in) raise(errc::diagnose_input, path.string(), "cannot be opened for reading; check the path and its permissions");
    std::vector<char> buf(chunk_bytes == 0 ? 1 : chunk_bytes);
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        const auto got = static_cast<std::size_t>(in.gcount());
        if (got > 0) on_chunk(std::string_view(buf.data(), got));
    }
    if (in.bad()) raise(errc::diagnose_input, path.string(), "could not be read to the end");
}

DSDEPLOY_INLINE log_reader::log_reader(std::string source, std::size_t max_line)
    : source_(std::move(source)), max_line_(max_line), split_(max_line) {}

DSDEPLOY_INLINE void log_reader::line(std::string_view raw) {
    const std::string_view l = detail::diag::clean_log_line(raw, clean_buf_);
    const std::size_t n = ++number_;
    const detail::diag::key_filter filter(l);
    nccl_.line(n, l);
    vllm_.line(n, l);
    events_.line(n, l);
    if (extra_) extra_(n, l);
}

DSDEPLOY_INLINE void log_reader::feed(std::string_view chunk) {
    split_.feed(chunk, [this](std::string_view l) { line(l); });
}

DSDEPLOY_INLINE void log_reader::end_input() {
    split_.finish([this](std::string_view l) { line(l); });
    vllm_.end_input();
}

DSDEPLOY_INLINE void log_reader::feed_file(const std::filesystem::path& path, std::size_t chunk_bytes) {
    read_file_chunks(path, [this](std::string_view chunk) { feed(chunk); }, chunk_bytes);
    end_input();
}

DSDEPLOY_INLINE std::uint64_t log_reader::lines() const { return split_.lines(); }

DSDEPLOY_INLINE log_digest log_reader::finish() {
    end_input();
    log_digest d;
    d.source = source_;
    d.bytes = split_.bytes();
    d.lines = split_.lines();
    d.truncated_lines = split_.truncated();
    d.nccl_lines = nccl_.recognised_lines();
    d.vllm_lines = vllm_.recognised_lines();
    d.event_lines = events_.recognised_lines();
    d.nccl = nccl_.finish();
    d.vllm = vllm_.finish();
    d.events = events_.finish();
    split_ = detail::line_splitter(max_line_);
    number_ = 0;
    return d;
}

DSDEPLOY_NAMESPACE_END
