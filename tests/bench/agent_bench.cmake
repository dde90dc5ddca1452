# The agent benchmark (README.md, "Agent benchmark"): times the rules next to the collector in
# process, and runs the built portwatch agent next to conn_farm.
add_executable(agent_bench agent_bench.cpp)
target_compile_definitions(agent_bench PRIVATE PORTWATCH_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
                           PORTWATCH_BUILD_TYPE="${CMAKE_BUILD_TYPE}"
                           PORTWATCH_BINARY="$<TARGET_FILE:portwatch>")
target_link_libraries(agent_bench PRIVATE portwatch_agent portwatch_store portwatch_collectors
                      fmt::fmt spdlog::spdlog nlohmann_json::nlohmann_json portwatch_bench_support)
add_dependencies(agent_bench conn_farm portwatch)
