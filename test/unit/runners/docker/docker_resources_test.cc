// The Docker runner's resources: what requests() reads from Kestra's
// properties (cpu.cpus, memory.memory, deviceRequests), and the container body
// for a grant of GPU ids. Also the shared size parser's exact units (the
// Process runner's resources.memory).
#include <gtest/gtest.h>

#include "agent/config/config.h"
#include "agent/template/value.h"
#include "runners/docker/container_spec.h"
#include "runners/docker/options.h"
#include "agent/common/size.h"

namespace {

using runners::docker::parse_options;

agent::Result<agent::runner::ResourceRequest> requests(std::string_view json) {
  AGENT_ASSIGN_OR_RETURN(runners::docker::Options o, parse_options(json));
  return runners::docker::resource_request(o);
}

TEST(DockerResources, RequestsReadCpuMemoryAndGpuDeviceRequests) {
  auto r = requests(R"({"type":"io.kestra.plugin.scripts.runner.docker.Docker","cpu":{"cpus":1.5},
    "memory":{"memory":"512MB"},"deviceRequests":[{"driver":"nvidia","count":2,"capabilities":[["gpu"]]}]})");
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->millicpus, 1500);
  EXPECT_EQ(r->memory_bytes, 512LL << 20);  // Docker's sizes: powers of 1024
  EXPECT_EQ(r->pids, 0);
  EXPECT_EQ(r->gpus, 2);
  EXPECT_TRUE(r->gpu_ids.empty());

  r = requests(R"({"deviceRequests":[{"count":-1,"capabilities":[["compute","gpu"]]}]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->gpus, -1);

  r = requests(R"({"deviceRequests":[{"driver":"nvidia","deviceIds":["0","2"]}]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->gpus, 0);
  EXPECT_EQ(r->gpu_ids, (std::vector<std::string>{"0", "2"}));

  // Not a GPU: another driver, no gpu capability.
  r = requests(R"({"deviceRequests":[{"driver":"cdi","count":1,"capabilities":[["fpga"]]}]})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());

  // Docker's own key spelling is read too.
  r = requests(R"({"deviceRequests":[{"Driver":"nvidia","Count":1}]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->gpus, 1);

  r = requests(R"({"type":"io.kestra.plugin.scripts.runner.docker.Docker"})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST(DockerResources, BadValuesAreRefusedWithTheirPropertyPath) {
  struct Case {
    std::string json, path;
  };
  for (const auto& c : std::vector<Case>{
           {R"({"cpu":{"cpus":0}})", "cpu.cpus"},
           {R"({"cpu":{"cpus":"x"}})", "cpu.cpus"},
           {R"({"memory":{"memory":"lots"}})", "memory.memory"},
           {R"({"deviceRequests":{"count":1}})", "deviceRequests"},
           {R"({"deviceRequests":[5]})", "deviceRequests[0]"},
           {R"({"deviceRequests":[{"count":"1"}]})", "deviceRequests[0].count"},
           {R"({"deviceRequests":[{"count":-2,"capabilities":[["gpu"]]}]})", "deviceRequests[0].count"},
           {R"({"deviceRequests":[{"deviceIds":"0"}]})", "deviceRequests[0].deviceIds"},
           {R"({"deviceRequests":[{"capabilities":["gpu"]}]})", "deviceRequests[0].capabilities[0]"},
           {R"({"deviceRequests":[{"driver":"nvidia","count":1,"deviceIds":["0"]}]})",
            "deviceRequests[0].deviceIds"},
           {R"({"deviceRequests":[{"driver":"nvidia","count":1},{"driver":"nvidia","deviceIds":["0"]}]})",
            "deviceRequests[1]"},
           {R"({"deviceRequests":[{"drivr":"nvidia"}]})", "deviceRequests[0].drivr"},
       }) {
    auto r = requests(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.error().path(), c.path) << c.json << ": " << r.error().message();
  }
}

runners::docker::ContainerRequest request() {
  runners::docker::ContainerRequest r;
  r.image = "busybox";
  r.argv = {"nvidia-smi"};
  r.working_dir = "/w";
  return r;
}

TEST(DockerResources, GrantedGpuIdsReplaceTheGpuDeviceRequests) {
  auto o = parse_options(R"({"cpu":{"cpus":0.5},"memory":{"memory":"64MB"},"deviceRequests":[
    {"driver":"nvidia","count":2,"capabilities":[["gpu"]]},{"driver":"cdi","deviceIds":["vendor.com/fpga=0"]}]})");
  ASSERT_TRUE(o.ok()) << o.error().describe();
  auto r = request();
  r.gpu_ids = {"1", "3"};
  auto body = runners::docker::create_body(r, *o, false);
  ASSERT_TRUE(body.ok()) << body.error().describe();
  auto v = agent::template_::parse_json(*body);
  ASSERT_TRUE(v.ok());
  const auto* host = v->find("HostConfig");
  EXPECT_EQ(host->find("NanoCpus")->as_int(), 500000000);
  EXPECT_EQ(host->find("Memory")->as_int(), 64LL << 20);
  const auto& devices = host->find("DeviceRequests")->as_list();
  ASSERT_EQ(devices.size(), 2u) << *body;
  EXPECT_EQ(devices[0].find("driver")->as_string(), "cdi");  // not a GPU: as written
  const auto& gpu = devices[1];
  EXPECT_EQ(gpu.find("Driver")->as_string(), "nvidia");
  EXPECT_EQ(gpu.find("Count")->as_int(), 0);
  ASSERT_EQ(gpu.find("DeviceIDs")->as_list().size(), 2u);
  EXPECT_EQ(gpu.find("DeviceIDs")->as_list()[0].as_string(), "1");
  EXPECT_EQ(gpu.find("DeviceIDs")->as_list()[1].as_string(), "3");
  EXPECT_EQ(gpu.find("Capabilities")->as_list()[0].as_list()[0].as_string(), "gpu");
  EXPECT_NE(body->find(R"("DeviceRequests":[{"driver":"cdi","deviceIds":["vendor.com/fpga=0"]},{"Driver":"nvidia","Count":0,"DeviceIDs":["1","3"],"Capabilities":[["gpu"]]}])"),
            std::string::npos)
      << *body;

  // A GPU entry with no driver: the granted entry has none either.
  auto plain = parse_options(R"({"deviceRequests":[{"count":-1,"capabilities":[["gpu"]]}]})");
  ASSERT_TRUE(plain.ok());
  auto b2 = runners::docker::create_body(r, *plain, false);
  ASSERT_TRUE(b2.ok());
  EXPECT_NE(b2->find(R"("DeviceRequests":[{"Driver":"","Count":0,"DeviceIDs":["1","3"],"Capabilities":[["gpu"]]}])"),
            std::string::npos)
      << *b2;

  // Without a grant of ids, deviceRequests go as written.
  r.gpu_ids.clear();
  auto b3 = runners::docker::create_body(r, *o, false);
  ASSERT_TRUE(b3.ok());
  EXPECT_NE(b3->find(R"("DeviceRequests":[{"driver":"nvidia","count":2,"capabilities":[["gpu"]]},)"),
            std::string::npos)
      << *b3;
}

TEST(Sizes, ExactUnitsForTheProcessRunner) {
  using agent::parse_size;
  using agent::SizeUnits;
  EXPECT_EQ(*parse_size("512MiB", SizeUnits::kExact), 512LL << 20);
  EXPECT_EQ(*parse_size("512MB", SizeUnits::kExact), 512000000);
  EXPECT_EQ(*parse_size("1.5GB", SizeUnits::kExact), 1500000000);
  EXPECT_EQ(*parse_size("2gib", SizeUnits::kExact), 2LL << 30);
  EXPECT_EQ(*parse_size("64 KB", SizeUnits::kExact), 64000);
  EXPECT_EQ(*parse_size("1048576", SizeUnits::kExact), 1048576);
  EXPECT_EQ(*parse_size("100B", SizeUnits::kExact), 100);
  for (std::string bad : {"512M", "1G", "256k", "12XB", "MB", "-1GB"}) {
    auto r = parse_size(bad, SizeUnits::kExact);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message().find("KiB"), std::string::npos);
  }
  // Docker's reading is unchanged: every unit a power of 1024.
  EXPECT_EQ(*parse_size("512MB"), 512LL << 20);
  EXPECT_EQ(*parse_size("512M"), 512LL << 20);
}

}  // namespace
