// Crash points for the restart tests: with RUNNERD_CRASH_AT=<name> in its
// environment, the agent kills itself with SIGKILL when it reaches the point
// of that name, as an operator's kill -9 at the worst moment would. Without
// the variable a point costs one predictable branch.
//
// The points, in the order a task meets them:
//   submission_received  before anything of a submission is stored
//   submission_stored    stored, before the client is answered
//   run_created          a task run's first record stored, before it starts
//   task_started         the runner started it, before RUNNING is stored
//   task_exited          the runner reported its end, before anything of it is stored
//   run_stored           its final state stored, before the walk goes on
//   execution_stored     the execution's final state stored, before it is announced
#pragma once

namespace agent {

void crash_point(const char* name);

}  // namespace agent
