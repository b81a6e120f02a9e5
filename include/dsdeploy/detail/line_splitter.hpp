// SPDX-License-Identifier: Apache-2.0
// Splits a byte stream, given in chunks of any size, into lines, in memory that does not grow
// with the input: LF, CRLF and a bare CR (a progress bar redrawing itself, an old Mac file) each
// end a line, also when the CR and the LF of one CRLF arrive in different chunks; a UTF-8 byte
// order mark at the start of the stream is dropped; a line longer than max_line keeps its first
// max_line bytes (the rest is skipped and counted). The same lines come out whatever the chunk
// sizes are. The diagnose parsers read every text through it (parse_*(text) and doctor's files
// alike). Internal (detail); not API.
#pragma once

#include <dsdeploy/config.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

DSDEPLOY_NAMESPACE_BEGIN
namespace detail {

class line_splitter {
public:
    static constexpr std::size_t default_max_line = std::size_t{1} << 20;  // 1 MiB

    explicit line_splitter(std::size_t max_line = default_max_line) : max_line_(max_line == 0 ? 1 : max_line) {}

    // Calls on_line(std::string_view line) for every line that ends within `chunk` (without its
    // line ending). The view is valid only during the call.
    template <class F>
    void feed(std::string_view chunk, F&& on_line) {
        const char* p = chunk.data();
        const std::size_t size = chunk.size();
        bytes_ += size;
        std::size_t i = 0;
        if (after_cr_ && size > 0) {
            after_cr_ = false;
            if (p[0] == '\n') i = 1;  // the LF of a CRLF whose CR ended the previous chunk
        }
        // the next LF and the next CR at or after i, each searched for once per occurrence (linear
        // also when a chunk holds only one of the two kinds)
        std::size_t next_lf = find(p, i, size, '\n'), next_cr = find(p, i, size, '\r');
        while (i < size) {
            if (next_lf < i) next_lf = find(p, i, size, '\n');
            if (next_cr < i) next_cr = find(p, i, size, '\r');
            const std::size_t end = next_lf < next_cr ? next_lf : next_cr;
            if (end >= size) {
                append(std::string_view(p + i, size - i));
                break;
            }
            const std::string_view piece(p + i, end - i);
            if (buf_.empty() && skipped_ == 0) {
                emit(piece, on_line);
            } else {
                append(piece);
                emit(std::string_view(buf_), on_line);
                buf_.clear();
            }
            skipped_ = 0;
            i = end + 1;
            if (p[end] == '\r') {
                if (i < size) {
                    if (p[i] == '\n') ++i;
                } else {
                    after_cr_ = true;
                }
            }
        }
    }

    // The last line, when the stream does not end with a line ending. Then the splitter can read
    // another stream (its BOM is dropped too; the counts go on).
    template <class F>
    void finish(F&& on_line) {
        if (!buf_.empty() || skipped_ > 0) emit(std::string_view(buf_), on_line);
        buf_.clear();
        skipped_ = 0;
        after_cr_ = false;
        bom_checked_ = false;
    }

    std::uint64_t lines() const { return lines_; }          // lines given so far
    std::uint64_t bytes() const { return bytes_; }          // bytes fed so far
    std::uint64_t truncated() const { return truncated_; }  // lines longer than max_line
    std::size_t max_line() const { return max_line_; }

private:
    static std::size_t find(const char* p, std::size_t from, std::size_t size, char c) {
        if (from >= size) return size;
        const void* hit = std::memchr(p + from, c, size - from);
        return hit ? static_cast<std::size_t>(static_cast<const char*>(hit) - p) : size;
    }

    void append(std::string_view s) {
        // (the first line may start with a BOM, dropped when it is given: room for it too)
        const std::size_t cap = max_line_ + (bom_checked_ ? 0 : 3);
        const std::size_t room = cap - buf_.size();
        if (s.size() <= room) {
            buf_.append(s.data(), s.size());
        } else {
            buf_.append(s.data(), room);
            skipped_ += s.size() - room;
        }
    }

    template <class F>
    void emit(std::string_view line, F& on_line) {
        if (!bom_checked_) {
            // A BOM split over chunks is whole here: the first line is complete.
            bom_checked_ = true;
            if (line.size() >= 3 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.remove_prefix(3);
        }
        if (line.size() > max_line_ || skipped_ > 0) {
            ++truncated_;
            if (line.size() > max_line_) line = line.substr(0, max_line_);
        }
        ++lines_;
        on_line(line);
    }

    std::size_t max_line_;
    std::string buf_;             // the start of a line that continues in the next chunk (at most max_line_, + 3 for a BOM)
    std::uint64_t skipped_ = 0;   // bytes of the current line beyond max_line_
    bool after_cr_ = false;       // the last chunk ended with a CR: a LF first in the next one belongs to it
    bool bom_checked_ = false;
    std::uint64_t lines_ = 0, bytes_ = 0, truncated_ = 0;
};

}  // namespace detail
DSDEPLOY_NAMESPACE_END
