// SPDX-License-Identifier: Apache-2.0
// An incremental Server-Sent Events parser that follows the WHATWG rules ("Parsing an event
// stream" and "Interpreting an event stream", HTML Living Standard section 9.2):
//   - bytes are buffered and only complete lines are interpreted, so a line, a JSON object, a
//     multi-byte UTF-8 character or the "data: " prefix itself may be split across reads, and
//     one read may carry many events;
//   - CRLF, lone LF and lone CR all end a line; a CR at the end of one read followed by an LF at
//     the start of the next is one line end; nothing else (U+2028, U+2029, NEL) ends a line;
//   - one leading byte-order mark is dropped;
//   - a blank line dispatches the event; an event whose data buffer is empty is not dispatched
//     (an "event:"-only block yields nothing), and its type is reset;
//   - lines starting with ':' are comments (keep-alives) and ignored;
//   - "name: value" with exactly one leading space stripped from the value; a line without ':'
//     is a field with an empty value; unknown fields are ignored;
//   - "data" lines are joined with LF; "event" sets the type (default "message"); "id" sets the
//     last event id unless it contains NUL, and the id persists across events; "retry" sets the
//     reconnection time only when it is all ASCII digits;
//   - at end of input an unterminated event is discarded, as the standard says; finish() tells
//     the caller whether something was pending so that it can report a truncated stream.
// The parser never interprets the bytes of a value: data stays UTF-8 as sent (invalid UTF-8
// is left for the JSON decoder to reject). Not part of the stable API.
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/error.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

DSDEPLOY_NAMESPACE_BEGIN
namespace detail {

struct sse_event {
    std::string type = "message";
    std::string data;
    std::string id;  // the last event id at dispatch time
};

class sse_parser {
public:
    // An event (its pending line plus data) larger than this throws client.stream: a
    // misbehaving server cannot make the client buffer without bound.
    static constexpr std::size_t default_max_event_bytes = std::size_t{16} << 20;

    explicit sse_parser(std::size_t max_event_bytes = default_max_event_bytes) : max_event_bytes_(max_event_bytes) {}

    // Feeds the next bytes of the stream. on_event(const sse_event&) is called for every
    // dispatched event and returns true to go on or false to stop; feed returns false once a
    // callback has asked to stop (the rest of the bytes are not interpreted).
    template <class OnEvent>
    bool feed(std::string_view bytes, OnEvent&& on_event) {
        if (stopped_) return false;
        std::size_t i = 0;
        while (bom_pos_ < 3 && i < bytes.size()) {
            static constexpr unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
            if (static_cast<unsigned char>(bytes[i]) == bom[bom_pos_]) {
                ++bom_pos_;
                ++i;
                continue;
            }
            // Not a BOM: the bytes held so far are ordinary input.
            const std::string held(reinterpret_cast<const char*>(bom), bom_pos_);
            bom_pos_ = 3;
            if (!held.empty() && !consume(held, on_event)) return false;
        }
        if (i == bytes.size()) return true;
        return consume(bytes.substr(i), on_event);
    }

    // End of input. The event being assembled (if any) is discarded; returns true when there
    // was one (an unterminated line or undispatched data), i.e. the stream was cut mid-event.
    bool finish() {
        const bool pending = !line_.empty() || !data_.empty();
        line_.clear();
        data_.clear();
        type_.clear();
        return pending;
    }

    const std::string& last_event_id() const noexcept { return last_id_; }
    std::optional<std::uint64_t> retry_ms() const noexcept { return retry_ms_; }
    std::size_t events_dispatched() const noexcept { return dispatched_; }

private:
    template <class OnEvent>
    bool consume(std::string_view bytes, OnEvent& on_event) {
        std::size_t start = 0;
        for (std::size_t k = 0; k < bytes.size(); ++k) {
            const char c = bytes[k];
            if (c != '\r' && c != '\n') continue;
            if (skip_lf_ && c == '\n' && k == start && line_.empty()) {
                // The LF of a CRLF whose CR ended the previous read (or the previous line).
                skip_lf_ = false;
                start = k + 1;
                continue;
            }
            skip_lf_ = (c == '\r');
            append_line(bytes.substr(start, k - start));
            start = k + 1;
            if (!process_line(on_event)) {
                stopped_ = true;
                return false;
            }
        }
        if (start < bytes.size()) {
            skip_lf_ = false;
            append_line(bytes.substr(start));
        }
        return true;
    }

    void append_line(std::string_view part) {
        if (line_.size() + part.size() + data_.size() > max_event_bytes_)
            raise(errc::client_stream, "stream",
                  "a server-sent event is larger than " + std::to_string(max_event_bytes_) +
                      " bytes; the server is not sending an OpenAI-style event stream");
        line_.append(part.data(), part.size());
    }

    // Interprets the line in line_ and clears it (keeping its buffer: no allocation per line).
    template <class OnEvent>
    bool process_line(OnEvent& on_event) {
        if (line_.empty()) return dispatch(on_event);
        struct clear_on_exit {
            std::string& s;
            ~clear_on_exit() { s.clear(); }
        } clear_line{line_};
        if (line_.front() == ':') return true;  // comment
        std::string_view field(line_), value;
        if (auto colon = field.find(':'); colon != std::string_view::npos) {
            value = field.substr(colon + 1);
            field = field.substr(0, colon);
            if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        }
        if (field == "data") {
            data_.append(value.data(), value.size());
            data_.push_back('\n');
        } else if (field == "event") {
            type_.assign(value.data(), value.size());
        } else if (field == "id") {
            if (value.find('\0') == std::string_view::npos) last_id_.assign(value.data(), value.size());
        } else if (field == "retry") {
            if (!value.empty() && value.find_first_not_of("0123456789") == std::string_view::npos) {
                std::uint64_t ms = 0;
                for (char d : value) {
                    const auto digit = static_cast<std::uint64_t>(d - '0');
                    ms = ms > (UINT64_MAX - digit) / 10 ? UINT64_MAX : ms * 10 + digit;
                }
                retry_ms_ = ms;
            }
        }
        return true;
    }

    template <class OnEvent>
    bool dispatch(OnEvent& on_event) {
        if (data_.empty()) {  // a data line always leaves at least its LF
            type_.clear();
            return true;
        }
        // The event object and the buffers are reused (swapped), so a long stream costs no
        // allocation per event once the buffers have grown.
        event_.data.swap(data_);
        event_.data.pop_back();  // the LF after the last data line
        if (type_.empty()) event_.type.assign("message");
        else event_.type.swap(type_);
        event_.id.assign(last_id_);
        data_.clear();
        type_.clear();
        ++dispatched_;
        return on_event(static_cast<const sse_event&>(event_));
    }

    std::size_t max_event_bytes_;
    sse_event event_;
    std::string line_;
    std::string data_;
    std::string type_;
    std::string last_id_;
    std::optional<std::uint64_t> retry_ms_;
    std::size_t dispatched_ = 0;
    unsigned bom_pos_ = 0;  // bytes of a leading BOM matched so far; 3 once decided
    bool skip_lf_ = false;
    bool stopped_ = false;
};

}  // namespace detail
DSDEPLOY_NAMESPACE_END
