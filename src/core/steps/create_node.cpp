// Step create_node: N becomes a Spock node (spock.node_create).
#include "core/plan/add_run.hpp"
#include "core/statements/spock_sql.hpp"

namespace zodan {

void create_node(AddRun &run, Figures &figures) {
    const AddNodeArgs &args = run.args;
    Connection &n = run.new_node().db();
    QueryResult local = n.exec(sql::local_node_name());
    if (!local.empty()) {
        // Only a resumed run gets here with the node present (step 1 refuses otherwise).
        if (local.text(0, "node_name") != args.new_name)
            throw UserError("this database is already Spock node \"" + local.text(0, "node_name") + "\"");
        figures.add("node", args.new_name);
        return;
    }
    QueryResult r = n.exec(sql::node_create(args.new_name, args.new_dsn, args.location, args.country, args.info_json));
    figures.add("node_id", r.text(0, "node_id"));
}

}  // namespace zodan
