#include "core/copy/join_window.hpp"

#include <algorithm>
#include <utility>

#include "core/statements/spock_sql.hpp"
#include "core/util.hpp"

namespace zodan {

namespace {

// Keys per statement on N (a source transaction that wrote many rows of a
// table is rewritten by several statements of one transaction), and per
// call of spock.zodan_restamp, which commits each transaction itself.
constexpr size_t kKeysPerStatement = 1000;
constexpr size_t kKeysPerCall = 20000;

}  // namespace

std::string window_start(const std::map<std::string, std::string> &marks) {
    // UTC text of one fixed form sorts as time does; "-infinity" before all.
    std::string from;
    for (const auto &[node, mark] : marks)
        if (from.empty() || mark < from) from = mark;
    return from;
}

WindowScan::WindowScan(Runtime &rt, Connection &source, const std::vector<std::string> &skip_schema,
                       const std::string &from)
    : rt_(rt), scan_(rt) {
    outcome_.from = from;
    started_ms_ = rt_.now_ms();
    QueryResult tables = source.exec(sql::window_tables(skip_schema));
    std::vector<std::string> selects;
    for (size_t i = 0; i < tables.size(); ++i) {
        parts_[tables.text(i, "t")] = tables.text(i, "update_sql");
        selects.push_back(tables.text(i, "select_sql"));
    }
    outcome_.tables = static_cast<int>(selects.size());
    if (!selects.empty()) scan_.send(source, sql::window_rows(selects, from));
}

WindowOutcome WindowScan::restamp(Member &new_node, const std::string &origin) {
    if (parts_.empty()) return outcome_;
    QueryResult rows = scan_.collect().front();
    const int64_t scanned = rt_.now_ms();
    outcome_.scan_ms = scanned - started_ms_;
    outcome_.found = static_cast<long long>(rows.size());
    if (rows.empty()) return outcome_;

    // (origin, timestamp) -> table number -> keys (jsonb arrays as text)
    std::map<std::pair<std::string, std::string>, std::map<std::string, std::vector<std::string>>> stamps;
    for (size_t i = 0; i < rows.size(); ++i)
        stamps[{rows.text(i, "origin"), rows.text(i, "ts")}][rows.text(i, "t")].push_back(rows.text(i, "key"));

    // The statements by table number, numbered from 1 in the call.
    std::vector<std::string> statements;
    std::map<std::string, std::string> statement_of;
    for (const auto &[table, update] : parts_) {
        statements.push_back(update);
        statement_of[table] = std::to_string(statements.size());
    }
    std::unique_ptr<Connection> n = rt_.connect(new_node.name, new_node.dsn.text());
    n->exec(sql::drop_origin_if_exists(origin));
    n->exec(sql::create_origin(origin));
    n->exec(sql::setup_origin_session(origin));
    n->exec(sql::restamp_session());
    std::vector<std::string> origins, times, entry_xact, entry_table, entry_keys;
    size_t call_keys = 0;
    auto send = [&] {
        if (origins.empty()) return;
        QueryResult r = n->exec(sql::restamp(statements, origins, times, entry_xact, entry_table, entry_keys));
        outcome_.rows += std::stoll(r.text(0, "rewritten", "0"));
        outcome_.commits += static_cast<long long>(origins.size());
        for (auto *v : {&origins, &times, &entry_xact, &entry_table, &entry_keys}) v->clear();
        call_keys = 0;
    };
    for (const auto &[stamp, tables] : stamps) {
        origins.push_back(stamp.first);
        times.push_back(stamp.second);
        const std::string xact = std::to_string(origins.size());
        for (const auto &[table, table_keys] : tables)
            for (size_t from = 0; from < table_keys.size(); from += kKeysPerStatement) {
                const size_t to = std::min(table_keys.size(), from + kKeysPerStatement);
                const std::vector<std::string> chunk(table_keys.begin() + static_cast<long>(from),
                                                     table_keys.begin() + static_cast<long>(to));
                entry_xact.push_back(xact);
                entry_table.push_back(statement_of.at(table));
                entry_keys.push_back("[" + join(chunk, ", ") + "]");
                call_keys += to - from;
            }
        if (call_keys >= kKeysPerCall) send();
    }
    send();
    n->exec(sql::reset_origin_session());
    n->exec(sql::drop_origin(origin));
    outcome_.restamp_ms = rt_.now_ms() - scanned;
    return outcome_;
}

}  // namespace zodan
