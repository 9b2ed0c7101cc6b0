# Plan-level tests of the stack, offline: mock providers (with the real
# 6.19.0 schemas from the stand-in, or the real provider where installed).
# Run with: terraform test -var lambda_dir=<dir with the two zips>

mock_provider "aws" {
  alias = "primary"
  override_data {
    target = data.aws_availability_zones.primary
    values = { names = ["us-east-1a", "us-east-1b", "us-east-1c"] }
  }
  override_data {
    target = data.aws_caller_identity.current
    values = { account_id = "111122223333" }
  }
  override_data {
    target = data.aws_partition.current
    values = { partition = "aws" }
  }
  override_data {
    target = data.aws_iam_policy_document.lambda_assume
    values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  override_resource {
    target          = aws_rds_cluster.primary
    override_during = plan
    values = {
      arn             = "arn:aws:rds:us-east-1:111122223333:cluster:drdrill-tftest-primary"
      endpoint        = "drdrill-tftest-primary.cluster-c0tftest.us-east-1.rds.amazonaws.com"
      reader_endpoint = "drdrill-tftest-primary.cluster-ro-c0tftest.us-east-1.rds.amazonaws.com"
    }
  }
}

mock_provider "aws" {
  alias = "secondary"
  override_resource {
    target          = aws_rds_cluster.secondary
    override_during = plan
    values = {
      arn             = "arn:aws:rds:us-west-2:111122223333:cluster:drdrill-tftest-secondary"
      endpoint        = "drdrill-tftest-secondary.cluster-c0tftest.us-west-2.rds.amazonaws.com"
      reader_endpoint = "drdrill-tftest-secondary.cluster-ro-c0tftest.us-west-2.rds.amazonaws.com"
    }
  }
  override_data {
    target = data.aws_availability_zones.secondary
    values = { names = ["us-west-2a", "us-west-2b", "us-west-2c"] }
  }
}

variables {
  environment_suffix = "tftest"
  # Mock providers cannot open ephemeral resources (Terraform 1.11), so the
  # test supplies the (ephemeral) password the stack otherwise generates.
  generate_master_password = false
  master_password          = sha256("drdrill plan test") # derived, never a literal: mocks never use it
}

run "stack" {
  command = plan

  assert {
    condition     = length(aws_subnet.primary) == 3 && length(aws_subnet.secondary) == 3
    error_message = "want 3 private subnets in each region (6 in all)"
  }
  assert {
    condition     = length(aws_subnet.functions_primary) == 3 && aws_subnet.functions_primary[0].cidr_block == "10.0.16.0/24" && aws_subnet.functions_secondary[2].cidr_block == "10.1.18.0/24" && aws_subnet.functions_secondary[2].availability_zone == "us-west-2c"
    error_message = "want 3 function subnets in each region, one per AZ, apart from the database subnets (10.x.16.0/24 to 10.x.18.0/24)"
  }
  assert {
    condition     = aws_vpc.primary.cidr_block == "10.0.0.0/16" && aws_vpc.secondary.cidr_block == "10.1.0.0/16"
    error_message = "VPC CIDRs must be 10.0.0.0/16 and 10.1.0.0/16"
  }
  assert {
    condition     = aws_vpc.primary.enable_dns_hostnames && aws_vpc.secondary.enable_dns_support
    error_message = "DNS support and hostnames must be on"
  }
  assert {
    condition     = aws_subnet.primary[1].availability_zone == "us-east-1b" && aws_subnet.secondary[2].availability_zone == "us-west-2c"
    error_message = "subnets must take their AZs from aws_availability_zones.names"
  }
  assert {
    condition     = aws_vpc_peering_connection.primary.peer_region == "us-west-2" && aws_vpc_peering_connection_accepter.secondary.auto_accept
    error_message = "cross-region peering with an auto-accepting accepter"
  }
  assert {
    condition     = aws_route.primary_to_secondary.destination_cidr_block == "10.1.0.0/16" && aws_route.secondary_to_primary.destination_cidr_block == "10.0.0.0/16"
    error_message = "peering routes both ways"
  }
  assert {
    condition     = aws_rds_global_cluster.global.engine == "aurora-mysql" && startswith(aws_rds_global_cluster.global.engine_version, "8.0.mysql_aurora.3.")
    error_message = "aurora-mysql 3.x global cluster"
  }
  assert {
    condition     = aws_rds_cluster.primary.serverlessv2_scaling_configuration[0].min_capacity == 0.5 && aws_rds_cluster.secondary.serverlessv2_scaling_configuration[0].min_capacity == 0.5
    error_message = "Serverless v2, min 0.5 ACU in both regions"
  }
  assert {
    condition     = aws_rds_cluster.primary.engine_mode == "provisioned" && aws_rds_cluster_instance.primary.instance_class == "db.serverless" && aws_rds_cluster_instance.secondary.instance_class == "db.serverless"
    error_message = "db.serverless instances in provisioned clusters"
  }
  assert {
    condition     = aws_rds_cluster.primary.master_password == null && aws_rds_cluster.primary.master_password_wo_version == 1
    error_message = "the master password must only go to the write-only argument"
  }
  assert {
    condition     = length([for a in [aws_cloudwatch_metric_alarm.lag_primary, aws_cloudwatch_metric_alarm.lag_secondary, aws_cloudwatch_metric_alarm.cpu_primary, aws_cloudwatch_metric_alarm.connections_primary, aws_cloudwatch_metric_alarm.trigger_errors, aws_cloudwatch_metric_alarm.monitor_throttles, aws_cloudwatch_metric_alarm.health_primary, aws_cloudwatch_metric_alarm.health_secondary] : a if length(a.alarm_actions) > 0]) >= 5
    error_message = "at least 5 alarms with SNS actions"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.lag_primary.threshold == 500 && aws_cloudwatch_metric_alarm.lag_secondary.threshold == 500 && aws_cloudwatch_metric_alarm.lag_secondary.metric_name == "AuroraGlobalDBRPOLag"
    error_message = "replication-lag alarms above 500 ms in both regions"
  }
  assert {
    condition     = aws_cloudwatch_event_rule.schedule_primary.schedule_expression == "rate(1 minute)" && aws_cloudwatch_event_rule.schedule_secondary.schedule_expression == "rate(1 minute)"
    error_message = "the monitors run every minute"
  }
  assert {
    condition     = aws_lambda_function.monitor_primary.runtime == "provided.al2023" && aws_lambda_function.trigger.architectures[0] == "arm64" && aws_lambda_function.trigger.handler == "bootstrap"
    error_message = "provided.al2023 arm64 functions"
  }
  assert {
    condition     = endswith(aws_lambda_function.monitor_primary.filename, "/healthmonitor.zip") && endswith(aws_lambda_function.trigger.filename, "/failovertrigger.zip")
    error_message = "the functions use the zips `make lambda` builds"
  }
  assert {
    condition     = aws_lambda_function.trigger.environment[0].variables["DRDRILL_CLUSTER_ARNS"] == "arn:aws:rds:us-east-1:111122223333:cluster:drdrill-tftest-primary,arn:aws:rds:us-west-2:111122223333:cluster:drdrill-tftest-secondary"
    error_message = "the trigger may act on both member clusters: it decides about whichever is the writer and fails over to the other"
  }
  assert {
    condition = (aws_lambda_function.monitor_primary.environment[0].variables["DRDRILL_CLUSTER_ENDPOINT"] == "drdrill-tftest-primary.cluster-ro-c0tftest.us-east-1.rds.amazonaws.com:3306"
      && aws_lambda_function.monitor_primary.environment[0].variables["DRDRILL_PEER_ENDPOINT"] == "drdrill-tftest-secondary.cluster-ro-c0tftest.us-west-2.rds.amazonaws.com:3306"
      && aws_lambda_function.monitor_secondary.environment[0].variables["DRDRILL_CLUSTER_ENDPOINT"] == "drdrill-tftest-secondary.cluster-ro-c0tftest.us-west-2.rds.amazonaws.com:3306"
    && aws_lambda_function.monitor_secondary.environment[0].variables["DRDRILL_PEER_ENDPOINT"] == "drdrill-tftest-primary.cluster-ro-c0tftest.us-east-1.rds.amazonaws.com:3306")
    error_message = "the monitors probe reader endpoints, which work in either role (a secondary cluster's writer endpoint is inactive)"
  }
  assert {
    condition     = aws_sns_topic.primary.name == "drdrill-tftest-alerts" && aws_sns_topic.secondary.name == "drdrill-tftest-alerts"
    error_message = "one topic per region, named with the environment suffix"
  }
  assert {
    condition     = aws_route53_health_check.primary.type == "CLOUDWATCH_METRIC" && aws_route53_health_check.secondary.type == "CLOUDWATCH_METRIC"
    error_message = "CLOUDWATCH_METRIC health checks for the private endpoints"
  }
  assert {
    condition     = length(aws_vpc_endpoint.primary) == 3 && length(aws_vpc_endpoint.secondary) == 3 && length(aws_lambda_function.trigger.vpc_config) == 0
    error_message = "interface endpoints for the APIs the monitors call: rds, monitoring, secretsmanager; the trigger runs outside the VPCs"
  }
  assert {
    condition     = output.TargetKind == "aws" && output.PrimaryRegion == "us-east-1" && output.GlobalClusterIdentifier == "drdrill-tftest-global"
    error_message = "outputs must be set"
  }
  assert {
    condition     = aws_iam_role.harness.name == "drdrill-tftest-harness" && length(jsondecode(aws_iam_role.harness.assume_role_policy).Statement) == 1 && jsondecode(aws_iam_role.harness.assume_role_policy).Statement[0].Principal.Service == "ecs-tasks.amazonaws.com" && jsondecode(aws_iam_role.harness.assume_role_policy).Statement[0].Condition.StringEquals["aws:SourceAccount"] == "111122223333"
    error_message = "the harness's role: the scheduled runner's task role (ECS tasks of this account only), and no one else unless harness_principal_arns says"
  }
}

# The principals an operator names may assume the harness's role too.
run "harness_assumable_by_named_principals" {
  command = plan
  variables {
    harness_principal_arns = ["arn:aws:iam::111122223333:role/ci-dr"]
  }
  assert {
    condition     = length(jsondecode(aws_iam_role.harness.assume_role_policy).Statement) == 2 && jsondecode(aws_iam_role.harness.assume_role_policy).Statement[1].Principal.AWS == ["arn:aws:iam::111122223333:role/ci-dr"]
    error_message = "harness_principal_arns may assume the harness's role"
  }
}

# Aurora MySQL before 3.04 does not publish AuroraGlobalDBRPOLag, which the
# lag alarms read: such an engine version is refused at plan time.
run "engine_without_the_lag_metric" {
  command = plan
  variables {
    engine_version = "8.0.mysql_aurora.3.03.1"
  }
  expect_failures = [var.engine_version]
}
