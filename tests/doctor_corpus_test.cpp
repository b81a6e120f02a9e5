// SPDX-License-Identifier: Apache-2.0
// The doctor corpus (tests/fixtures/doctor-corpus, docs/doctor-corpus.md): log excerpts users
// posted in public issues, each with the root cause its thread established. Every fixture is fed to
// diagnose() the way an operator would hand it to `dsdeploy doctor` (by its kind: --vllm-log,
// --nccl-log, --nvidia-smi, else --output), and scored: it passes when the first (highest-severity)
// finding is its `# expect:` id; for vllm.ray_tp_exceeds_local_gpus (a harmless warning) when no
// finding is an error. train/ must pass entirely, heldout/ at 90 % or more, and no fixture may get
// a wrong main diagnosis (a finding that is not its expected id). The scores are printed.
#include <dsdeploy/diagnose.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace doctor_corpus_test {

using namespace dsdeploy;

namespace {

struct fixture_file {
    std::string name, kind, expect, text;
};

std::filesystem::path corpus_dir() { return std::filesystem::path(DSDEPLOY_SOURCE_DIR) / "tests" / "fixtures" / "doctor-corpus"; }

fixture_file read_fixture(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string all = ss.str();
    fixture_file f;
    f.name = p.stem().string();
    std::size_t pos = 0;
    bool body = false;
    while (pos < all.size()) {
        std::size_t eol = all.find('\n', pos);
        if (eol == std::string::npos) eol = all.size();
        const std::string line = all.substr(pos, eol - pos);
        pos = eol + 1;
        if (line == "# ---") {
            body = true;
            break;
        }
        auto value = [&](const std::string& key) -> std::string {
            const std::string k = "# " + key + ": ";
            return line.rfind(k, 0) == 0 ? line.substr(k.size()) : std::string();
        };
        if (auto v = value("kind"); !v.empty()) f.kind = v;
        if (auto v = value("expect"); !v.empty()) f.expect = v.rfind("NEW:", 0) == 0 ? v.substr(4) : v;
    }
    if (body && pos <= all.size()) f.text = all.substr(std::min(pos, all.size()));
    return f;
}

std::vector<fixture_file> read_split(const std::string& split) {
    std::vector<std::filesystem::path> paths;
    for (const auto& e : std::filesystem::directory_iterator(corpus_dir() / split))
        if (e.path().extension() == ".log") paths.push_back(e.path());
    std::sort(paths.begin(), paths.end());
    std::vector<fixture_file> out;
    for (const auto& p : paths) out.push_back(read_fixture(p));
    return out;
}

// As `dsdeploy doctor` would be given the file: by its kind, else --output.
std::vector<finding> run_doctor(const fixture_file& f) {
    node_evidence n;
    if (f.kind == "vllm-log") {
        n.name = "node";
        n.vllm_log = f.text;
    } else if (f.kind == "nccl-log") {
        n.name = "node";
        n.nccl_log = f.text;
    } else if (f.kind == "nvidia-smi") {
        n.name = "node";
        n.nvidia_smi = f.text;
    } else {
        n = evidence_from_output("node", f.text);
    }
    evidence ev;
    ev.nodes.push_back(std::move(n));
    return diagnose(ev);
}

struct score {
    int passed = 0, total = 0, wrong = 0;
};

score score_split(const std::string& split) {
    score s;
    for (const auto& f : read_split(split)) {
        INFO(split + "/" + f.name + ".log");
        REQUIRE_FALSE(f.expect.empty());
        REQUIRE_FALSE(f.text.empty());
        const auto fs = run_doctor(f);
        ++s.total;
        bool pass = false;
        std::string got = fs.empty() ? std::string("(no finding)") : fs.front().id + " (" + std::string(to_string(fs.front().level)) + ")";
        if (f.expect == "vllm.ray_tp_exceeds_local_gpus") {
            pass = !has_errors(fs);
            if (!pass) ++s.wrong;
        } else {
            pass = !fs.empty() && fs.front().id == f.expect;
            if (!fs.empty() && !pass) ++s.wrong;  // a main diagnosis, and the wrong one
        }
        if (pass) {
            ++s.passed;
            const auto& m = fs.empty() ? finding{} : fs.front();
            // every main finding: the message, the evidence line, the fix
            if (!fs.empty()) {
                CHECK_FALSE(m.message.empty());
                CHECK_FALSE(m.evidence.empty());
                CHECK_FALSE(m.fix.empty());
            }
        }
        std::cout << "  " << (pass ? "pass " : "MISS ") << split << "/" << f.name << ": expect " << f.expect << ", got " << got << "\n";
    }
    std::cout << "doctor corpus " << split << ": " << s.passed << "/" << s.total << " ("
              << (s.total ? 100 * s.passed / s.total : 0) << " %), wrong main diagnoses: " << s.wrong << "\n";
    return s;
}

}  // namespace

TEST_CASE("doctor corpus: train - every root cause named") {
    const score s = score_split("train");
    CHECK(s.total == 33);
    CHECK(s.passed == s.total);
    CHECK(s.wrong == 0);
}

TEST_CASE("doctor corpus: heldout - at least 90 percent and no wrong main diagnosis") {
    const score s = score_split("heldout");
    CHECK(s.total == 13);
    CHECK(s.passed * 10 >= s.total * 9);
    CHECK(s.wrong == 0);
}

}  // namespace doctor_corpus_test
