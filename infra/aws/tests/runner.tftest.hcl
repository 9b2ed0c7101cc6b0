# Plan-level tests of the scheduled runner (runner.tf, runner_role.tf),
# offline, with the mock providers of stack.tftest.hcl.

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
}

mock_provider "aws" {
  alias = "secondary"
  override_resource {
    target          = aws_rds_cluster.secondary
    override_during = plan
    values          = { arn = "arn:aws:rds:us-west-2:111122223333:cluster:drdrill-tftest-secondary" }
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

run "runner" {
  command = plan

  assert {
    condition     = aws_scheduler_schedule.runner[0].schedule_expression == "cron(0 6 ? * MON *)" && aws_scheduler_schedule.runner[0].flexible_time_window[0].mode == "OFF"
    error_message = "the runner's schedule must default to weekly, with the flexible time window off"
  }
  assert {
    condition     = aws_scheduler_schedule.runner[0].target[0].ecs_parameters[0].launch_type == "FARGATE" && aws_scheduler_schedule.runner[0].target[0].ecs_parameters[0].network_configuration[0].assign_public_ip == false
    error_message = "the schedule must run the task on Fargate, without a public IP (its subnets: TestRunnerLivesInTheFunctionSubnets)"
  }
  assert {
    condition     = contains(local.runner_command, "s3://drdrill-tftest-reports-111122223333/runs") && contains(local.runner_command, "planned-switchover || failback") && contains(local.runner_command, "s3://drdrill-tftest-reports-111122223333/outputs/flat-outputs.json")
    error_message = "the runner must drill the labels it is given and write its runs to the reports bucket"
  }
  assert {
    condition     = aws_ecs_task_definition.runner[0].runtime_platform[0].cpu_architecture == "ARM64"
    error_message = "the runner runs on Graviton by default"
  }
  assert {
    condition     = aws_s3_bucket_versioning.reports[0].versioning_configuration[0].status == "Enabled" && aws_s3_bucket_public_access_block.reports[0].block_public_acls && aws_s3_bucket_public_access_block.reports[0].restrict_public_buckets
    error_message = "the reports bucket must be versioned and closed to the public"
  }
  assert {
    condition     = one(aws_s3_bucket_server_side_encryption_configuration.reports[0].rule).apply_server_side_encryption_by_default[0].sse_algorithm == "aws:kms"
    error_message = "the reports bucket must be encrypted with the stack's KMS key"
  }
  assert {
    condition     = one(aws_s3_bucket_lifecycle_configuration.reports[0].rule).expiration[0].days == 730
    error_message = "the reports must expire after report_retention_days"
  }
  assert {
    condition     = local.runner_outputs["TargetKind"] == "aws" && length(local.runner_outputs) == 34 && aws_s3_object.outputs[0].key == "outputs/flat-outputs.json"
    error_message = "the outputs object must carry every output"
  }
  assert {
    condition     = aws_route.functions_secondary_nat[0].destination_cidr_block == "0.0.0.0/0"
    error_message = "the secondary function subnets reach the AWS APIs of both regions through a NAT route"
  }
}

run "runner_off" {
  command = plan
  variables {
    runner_enabled = false
  }

  assert {
    condition     = length(aws_scheduler_schedule.runner) == 0 && length(aws_s3_bucket.reports) == 0 && length(aws_nat_gateway.secondary) == 0 && length(aws_ecr_repository.runner) == 0
    error_message = "runner_enabled = false must leave out the runner, its bucket, its repository and the NAT gateway"
  }
}
