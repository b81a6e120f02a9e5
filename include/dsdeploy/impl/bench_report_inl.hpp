// SPDX-License-Identifier: Apache-2.0
// The definitions of bench_report.hpp: included by it in header-only mode, compiled once by
// src/bench_report.cpp in the compiled library (DSDEPLOY_PRECOMPILED).
#pragma once

#include <dsdeploy/bench_report.hpp>
#include <dsdeploy/detail/html.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

DSDEPLOY_NAMESPACE_BEGIN
namespace bench {

namespace detail {

inline std::string esc(std::string_view s) { return dsdeploy::detail::html_escape(s); }

inline std::string num(double v, int prec = 2) {
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", prec, std::isfinite(v) ? v : 0.0);
    return b;
}

// A "nice" axis maximum (1, 2, 5 x 10^k) at or above v.
inline double nice_max(double v) {
    if (!(v > 0)) return 1;
    const double e = std::pow(10.0, std::floor(std::log10(v)));
    for (double m : {1.0, 2.0, 5.0, 10.0})
        if (m * e >= v) return m * e;
    return 10 * e;
}

struct series {
    std::string name;
    std::vector<std::pair<double, double>> points;
};

inline const char* color(std::size_t i) {
    static const char* c[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};
    return c[i % 8];
}

constexpr int W = 640, H = 300, L = 60, R = 20, T = 30, B = 45;

inline std::string axes(const std::string& title, const std::string& xl, const std::string& yl, double xmax, double ymax,
                        double xmin = 0) {
    std::string o = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(W) + "\" height=\"" +
                    std::to_string(H) + "\" viewBox=\"0 0 " + std::to_string(W) + " " + std::to_string(H) +
                    "\" role=\"img\" aria-label=\"" + esc(title) + "\">\n";
    o += "<rect x=\"0\" y=\"0\" width=\"" + std::to_string(W) + "\" height=\"" + std::to_string(H) + "\" fill=\"#ffffff\"/>\n";
    o += "<text x=\"" + std::to_string(W / 2) + "\" y=\"18\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">" +
         esc(title) + "</text>\n";
    const int pw = W - L - R, ph = H - T - B;
    o += "<rect x=\"" + std::to_string(L) + "\" y=\"" + std::to_string(T) + "\" width=\"" + std::to_string(pw) +
         "\" height=\"" + std::to_string(ph) + "\" fill=\"#f8f9fb\" stroke=\"#444444\"/>\n";
    for (int i = 0; i <= 4; ++i) {
        const double fy = static_cast<double>(i) / 4;
        const int y = T + ph - static_cast<int>(fy * ph);
        o += "<line x1=\"" + std::to_string(L) + "\" y1=\"" + std::to_string(y) + "\" x2=\"" + std::to_string(L + pw) +
             "\" y2=\"" + std::to_string(y) + "\" stroke=\"#dddddd\"/>\n";
        o += "<text x=\"" + std::to_string(L - 5) + "\" y=\"" + std::to_string(y + 4) +
             "\" text-anchor=\"end\" font-size=\"10\">" + num(ymax * fy, ymax * fy >= 100 ? 0 : 2) + "</text>\n";
        const int x = L + static_cast<int>(fy * pw);
        o += "<text x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(T + ph + 14) +
             "\" text-anchor=\"middle\" font-size=\"10\">" + num(xmin + (xmax - xmin) * fy, (xmax - xmin) >= 100 ? 0 : 2) +
             "</text>\n";
    }
    o += "<text x=\"" + std::to_string(L + pw / 2) + "\" y=\"" + std::to_string(H - 8) +
         "\" text-anchor=\"middle\" font-size=\"11\">" + esc(xl) + "</text>\n";
    o += "<text x=\"14\" y=\"" + std::to_string(T + ph / 2) + "\" text-anchor=\"middle\" font-size=\"11\" transform=\"rotate(-90 14 " +
         std::to_string(T + ph / 2) + ")\">" + esc(yl) + "</text>\n";
    return o;
}

inline std::string legend(const std::vector<series>& ss) {
    std::string o;
    for (std::size_t i = 0; i < ss.size(); ++i) {
        const int y = T + 12 + static_cast<int>(i) * 14;
        o += "<rect x=\"" + std::to_string(W - R - 150) + "\" y=\"" + std::to_string(y - 8) +
             "\" width=\"10\" height=\"10\" fill=\"" + color(i) + "\"/>\n";
        o += "<text x=\"" + std::to_string(W - R - 135) + "\" y=\"" + std::to_string(y + 1) + "\" font-size=\"10\">" +
             esc(ss[i].name) + "</text>\n";
    }
    return o;
}

// Line plot (also used for histograms drawn as steps).
inline std::string line_plot(const std::string& title, const std::string& xl, const std::string& yl,
                             const std::vector<series>& ss, bool log_x = false) {
    double xmax = 0, ymax = 0, xmin = std::numeric_limits<double>::infinity();
    for (const auto& s : ss)
        for (const auto& [x, y] : s.points) {
            xmax = std::max(xmax, x);
            xmin = std::min(xmin, x);
            ymax = std::max(ymax, y);
        }
    if (!std::isfinite(xmin)) xmin = 0;
    auto tx = [&](double x) { return log_x ? std::log2(std::max(x, 1.0)) : x; };
    const double x0 = log_x ? tx(xmin) : 0.0;
    double x1 = log_x ? tx(xmax) : nice_max(xmax);
    if (x1 <= x0) x1 = x0 + 1;
    ymax = nice_max(ymax);
    std::string o = axes(title, xl + (log_x ? " (log scale)" : ""), yl, log_x ? x1 : x1, ymax, log_x ? x0 : 0);
    if (log_x) {  // label the points' own x values instead of the log axis numbers
        o += "<g font-size=\"9\" fill=\"#555555\">\n";
        std::set<double> xs;
        for (const auto& s : ss)
            for (const auto& p : s.points) xs.insert(p.first);
        for (double x : xs) {
            const double fx = (tx(x) - x0) / (x1 - x0);
            o += "<text x=\"" + num(L + fx * (W - L - R), 1) + "\" y=\"" + std::to_string(H - B + 26) +
                 "\" text-anchor=\"middle\">" + num(x, 0) + "</text>\n";
        }
        o += "</g>\n";
    }
    const int pw = W - L - R, ph = H - T - B;
    for (std::size_t i = 0; i < ss.size(); ++i) {
        if (ss[i].points.empty()) continue;
        std::string pts;
        for (const auto& [x, y] : ss[i].points) {
            const double fx = (tx(x) - x0) / (x1 - x0), fy = y / ymax;
            pts += num(L + fx * pw, 1) + "," + num(T + ph - fy * ph, 1) + " ";
        }
        pts.pop_back();
        o += "<polyline fill=\"none\" stroke=\"" + std::string(color(i)) + "\" stroke-width=\"2\" points=\"" + pts + "\"/>\n";
        if (ss[i].points.size() <= 32) {
            for (const auto& [x, y] : ss[i].points) {
                const double fx = (tx(x) - x0) / (x1 - x0), fy = y / ymax;
                o += "<circle cx=\"" + num(L + fx * pw, 1) + "\" cy=\"" + num(T + ph - fy * ph, 1) + "\" r=\"3\" fill=\"" +
                     color(i) + "\"/>\n";
            }
        }
    }
    o += legend(ss) + "</svg>\n";
    return o;
}

// Histogram of values (ms) as a step line per series, over [0, p99.5 of all].
inline std::string histogram(const std::string& title, const std::string& xl,
                             const std::vector<std::pair<std::string, std::vector<double>>>& data) {
    std::vector<double> all;
    for (const auto& d : data) all.insert(all.end(), d.second.begin(), d.second.end());
    std::vector<series> ss;
    if (all.empty()) return line_plot(title + " (no data)", xl, "share of samples (%)", ss);
    std::sort(all.begin(), all.end());
    double hi = percentile(all, 99.5);
    if (!(hi > 0)) hi = all.back() > 0 ? all.back() : 1.0;
    hi = nice_max(hi);
    const int bins = 50;
    for (const auto& [name, v] : data) {
        std::vector<double> count(bins, 0.0);
        for (double x : v) {
            auto b = static_cast<int>(x / hi * bins);
            count[static_cast<std::size_t>(std::clamp(b, 0, bins - 1))] += 1;
        }
        series s;
        s.name = name;
        for (int b = 0; b < bins; ++b) {
            const double share = v.empty() ? 0 : 100.0 * count[static_cast<std::size_t>(b)] / static_cast<double>(v.size());
            s.points.emplace_back(hi * b / bins, share);
            s.points.emplace_back(hi * (b + 1) / bins, share);
        }
        ss.push_back(std::move(s));
    }
    return line_plot(title, xl + " (last bin holds everything above)", "share of samples (%)", ss);
}

}  // namespace detail

DSDEPLOY_INLINE std::string html_report(const std::vector<report_point>& points, const std::string& title) {
    using detail::esc;
    using detail::num;
    std::string o = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>" + esc(title) +
                    "</title>\n<style>\nbody{font-family:sans-serif;margin:24px;color:#222;background:#fff}\n"
                    "table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #bbb;padding:4px 8px;text-align:right}\n"
                    "th{background:#eef}td:first-child,th:first-child{text-align:left}\n"
                    "svg{margin:8px 16px 8px 0;border:1px solid #ddd}\n</style>\n</head>\n<body>\n";
    o += "<h1>" + esc(title) + "</h1>\n";
    if (points.empty()) return o + "<p>No runs.</p>\n</body>\n</html>\n";
    const run_result& first = *points.front().result;
    o += "<p>Model <b>" + esc(first.workload.model) + "</b> at " + esc(first.base_url) + " (" +
         esc(std::string(to_string(first.endpoint))) + " endpoint), engine " + esc(first.engine) + ". Output tokens from " +
         esc(points.front().summary->output_token_source) + "; prompt lengths: " + esc(first.prompt_token_source) +
         ". TTFT: first output event - send; ITL: gaps between output events; TPOT: (E2EL - TTFT) / (tokens - 1). "
         "\"From scheduled\": the same latencies from the time the schedule (open loop) or the user (closed loop) "
         "meant the request to be sent, so that waiting for a free slot counts (coordinated omission).</p>\n";
    o += "<table>\n<tr><th>run</th><th>ok</th><th>failed</th><th>duration s</th><th>req/s</th><th>output tok/s</th>"
         "<th>mean TTFT ms</th><th>p99 TTFT ms</th><th>mean TPOT ms</th><th>mean ITL ms</th><th>p99 ITL ms</th>"
         "<th>mean E2EL ms</th><th>mean TTFT from scheduled ms</th><th>p99 E2EL from scheduled ms</th></tr>\n";
    auto p99 = [](const distribution& d) {
        for (const auto& [p, v] : d.percentiles)
            if (p == 99) return v;
        return d.max;
    };
    for (const auto& p : points) {
        const auto& s = *p.summary;
        o += "<tr><td>" + esc(p.label) + "</td><td>" + std::to_string(s.completed) + "</td><td>" + std::to_string(s.failed) +
             "</td><td>" + num(s.duration) + "</td><td>" + num(s.request_throughput) + "</td><td>" +
             num(s.output_throughput) + "</td><td>" + num(s.ttft.mean) + "</td><td>" + num(p99(s.ttft)) + "</td><td>" +
             num(s.tpot.mean) + "</td><td>" + num(s.itl.mean) + "</td><td>" + num(p99(s.itl)) + "</td><td>" +
             num(s.e2el.mean) + "</td><td>" + num(s.ttft_from_scheduled.mean) + "</td><td>" + num(p99(s.e2el_from_scheduled)) +
             "</td></tr>\n";
    }
    o += "</table>\n";
    for (const auto& p : points) {
        if (p.reconciliation_html.empty()) continue;
        if (points.size() > 1) o += "<h3>" + esc(p.label) + "</h3>\n";
        o += p.reconciliation_html;  // built escaped by its maker
    }
    std::vector<std::pair<std::string, std::vector<double>>> ttfts, itls;
    std::vector<detail::series> tput;
    for (const auto& p : points) {
        std::vector<double> t, g;
        for (const auto& q : p.result->requests) {
            if (q.status != request_status::ok || q.first_token < 0) continue;
            t.push_back((q.first_token - q.sent) * 1000.0);
            for (std::size_t i = 1; i < q.token_times.size(); ++i) g.push_back((q.token_times[i] - q.token_times[i - 1]) * 1000.0);
        }
        ttfts.emplace_back(p.label, std::move(t));
        itls.emplace_back(p.label, std::move(g));
        detail::series s;
        s.name = p.label;
        const auto& b = p.summary->output_tokens_per_second;
        for (std::size_t i = 0; i < b.size(); ++i) {
            // the last bucket may be shorter than a second: its point sits in its middle
            const double len = i + 1 == b.size() ? p.summary->last_bucket_seconds : 1.0;
            s.points.emplace_back(static_cast<double>(i) + len / 2, b[i]);
        }
        tput.push_back(std::move(s));
    }
    o += "<h2>Distributions</h2>\n<div>\n";
    o += detail::histogram("Time to first token", "TTFT (ms)", ttfts);
    o += detail::histogram("Inter-token latency", "ITL (ms)", itls);
    o += "</div>\n<h2>Throughput over time</h2>\n<div>\n";
    o += detail::line_plot("Output tokens per second", "time since start (s)", "tokens/s", tput);
    o += "</div>\n";
    if (points.size() > 1) {
        detail::series ttft{"mean TTFT", {}}, ttft99{"p99 TTFT", {}}, itl{"mean ITL", {}}, e2el{"mean E2EL / 10", {}};
        detail::series thr{"output tok/s", {}};
        for (const auto& p : points) {
            const double c = static_cast<double>(p.result->max_concurrency);
            const auto& s = *p.summary;
            ttft.points.emplace_back(c, s.ttft.mean);
            ttft99.points.emplace_back(c, p99(s.ttft));
            itl.points.emplace_back(c, s.itl.mean);
            e2el.points.emplace_back(c, s.e2el.mean / 10);
            thr.points.emplace_back(c, s.output_throughput);
        }
        o += "<h2>Latency vs concurrency</h2>\n<div>\n";
        o += detail::line_plot("Latency vs concurrency", "concurrency", "ms", {ttft, ttft99, itl, e2el}, true);
        o += detail::line_plot("Throughput vs concurrency", "concurrency", "output tokens/s", {thr}, true);
        o += "</div>\n";
    }
    o += "<p style=\"color:#777\">dsdeploy " DSDEPLOY_VERSION "</p>\n</body>\n</html>\n";
    return o;
}

}  // namespace bench
DSDEPLOY_NAMESPACE_END
