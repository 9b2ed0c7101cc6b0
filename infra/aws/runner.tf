# The scheduled drill runner (docs/aws.md, "Scheduled drills"): an ECS
# Fargate task in the secondary region's function subnets — inside the
# VPC, where the private cluster endpoints and the global writer endpoint
# are; outside the database subnets, so that a region isolation cuts its
# database path as it cuts any client's — fired by an EventBridge
# Scheduler schedule, writing every run to an S3 bucket that keeps the
# history `drdrill verdict --window` judges. The image is the one `make
# image` builds and `make push IMAGE=<RunnerRepositoryUrl>:<tag>` pushes.
#
# It lives in the secondary region: the region a drill fails over to, and
# the one that must survive the loss of the primary, as the failover
# trigger does. The harness calls both regions' APIs (RDS, CloudWatch,
# EC2, Lambda, SNS, SQS, STS), and PrivateLink reaches only a few services
# in another region (VPC User Guide, "Cross-region enabled AWS services":
# S3, ECR, ECS, KMS, Lambda, IAM, Route 53 — not RDS, CloudWatch, EC2,
# SNS, SQS or STS), so the function subnets of that region get a NAT
# gateway, and an S3 gateway endpoint (free) for the reports and the
# image's layers. All of it exists only while var.runner_enabled.

variable "runner_enabled" {
  type        = bool
  description = "Deploy the scheduled drill runner (ECS Fargate, EventBridge Scheduler, the reports bucket, the image repository, a NAT gateway)."
  default     = true
}

variable "runner_schedule" {
  type        = string
  description = "When the runner drills: an EventBridge Scheduler expression (cron(minutes hours day-of-month month day-of-week year), rate(…) or at(…))."
  default     = "cron(0 6 ? * MON *)"
  validation {
    condition     = can(regex("^(cron|rate|at)\\(.+\\)$", var.runner_schedule))
    error_message = "runner_schedule must be an EventBridge Scheduler expression: cron(…), rate(…) or at(…)."
  }
}

variable "runner_schedule_timezone" {
  type        = string
  description = "Time zone of runner_schedule (IANA name)."
  default     = "UTC"
}

variable "runner_labels" {
  type        = string
  description = "Ginkgo label filter of the scheduled drill (drdrill drill --labels)."
  default     = "planned-switchover || failback"
}

variable "runner_rate" {
  type        = number
  description = "Writes per second of the scheduled drill's workload (drdrill drill --rate)."
  default     = 200
}

variable "runner_policy" {
  type        = string
  description = "SLO policy (YAML) the scheduled drill is judged with; empty for drdrill's built-in AWS policy. Stored in the reports bucket."
  default     = ""
}

variable "runner_stop_alarms" {
  type        = list(string)
  description = "Alarms that stop a scheduled drill and roll its faults back while in ALARM (DRDRILL_STOP_ALARMS)."
  default     = []
}

variable "runner_image_tag" {
  type        = string
  description = "Tag of the runner image in the stack's repository (make push IMAGE=<RunnerRepositoryUrl>:<tag>)."
  default     = "latest"
}

variable "runner_cpu_architecture" {
  type        = string
  description = "Fargate CPU architecture of the runner: ARM64 (Graviton, cheaper) or X86_64; `make image` builds both."
  default     = "ARM64"
  validation {
    condition     = contains(["ARM64", "X86_64"], var.runner_cpu_architecture)
    error_message = "runner_cpu_architecture must be ARM64 or X86_64."
  }
}

variable "report_retention_days" {
  type        = number
  description = "Days a run's reports are kept in the bucket (the history verdict --window reads)."
  default     = 730
}

locals {
  runner        = var.runner_enabled ? 1 : 0
  runner_name   = "${local.name}-runner"
  runner_bucket = "${local.name}-reports-${local.account}"
  # The flat outputs file the drill attaches with (what `make outputs`
  # writes locally), written to the bucket on apply: every output of
  # outputs.tf, lists JSON-encoded (TestRunnerOutputsObjectCarriesEveryOutput).
  runner_outputs = {
    PrimaryVPCId                       = aws_vpc.primary.id
    SecondaryVPCId                     = aws_vpc.secondary.id
    VPCPeeringConnectionId             = aws_vpc_peering_connection.primary.id
    GlobalClusterIdentifier            = aws_rds_global_cluster.global.global_cluster_identifier
    PrimaryClusterIdentifier           = aws_rds_cluster.primary.cluster_identifier
    SecondaryClusterIdentifier         = aws_rds_cluster.secondary.cluster_identifier
    PrimaryClusterArn                  = aws_rds_cluster.primary.arn
    SecondaryClusterArn                = aws_rds_cluster.secondary.arn
    PrimaryClusterEndpoint             = aws_rds_cluster.primary.endpoint
    SecondaryClusterEndpoint           = aws_rds_cluster.secondary.endpoint
    PrimaryReaderEndpoint              = aws_rds_cluster.primary.reader_endpoint
    SecondaryReaderEndpoint            = aws_rds_cluster.secondary.reader_endpoint
    GlobalWriterEndpoint               = aws_rds_global_cluster.global.endpoint
    DatabaseSecretArn                  = aws_secretsmanager_secret.db.arn
    PrimaryHealthMonitorFunctionName   = aws_lambda_function.monitor_primary.function_name
    SecondaryHealthMonitorFunctionName = aws_lambda_function.monitor_secondary.function_name
    FailoverTriggerFunctionName        = aws_lambda_function.trigger.function_name
    PrimaryHealthMonitorFunctionArn    = aws_lambda_function.monitor_primary.arn
    SecondaryHealthMonitorFunctionArn  = aws_lambda_function.monitor_secondary.arn
    FailoverTriggerFunctionArn         = aws_lambda_function.trigger.arn
    PrimarySNSTopicArn                 = aws_sns_topic.primary.arn
    SecondarySNSTopicArn               = aws_sns_topic.secondary.arn
    ReplicationLagAlarmName            = aws_cloudwatch_metric_alarm.lag_secondary.alarm_name
    PrimaryHealthCheckId               = aws_route53_health_check.primary.id
    SecondaryHealthCheckId             = aws_route53_health_check.secondary.id
    PrimaryRegion                      = var.primary_region
    SecondaryRegion                    = var.secondary_region
    DatabaseName                       = var.database_name
    PrimaryDatabaseSubnetIds           = jsonencode(aws_subnet.primary[*].id)
    SecondaryDatabaseSubnetIds         = jsonencode(aws_subnet.secondary[*].id)
    PrimaryDatabaseNetworkAclId        = aws_network_acl.db_primary.id
    SecondaryDatabaseNetworkAclId      = aws_network_acl.db_secondary.id
    TargetKind                         = "aws"
    HarnessRoleArn                     = aws_iam_role.harness.arn
  }
  runner_command = concat(
    ["drill", "--outputs", "s3://${local.runner_bucket}/outputs/flat-outputs.json", "--reports", "s3://${local.runner_bucket}/runs",
    "--labels", var.runner_labels, "--rate", tostring(var.runner_rate)],
    var.runner_policy == "" ? [] : ["--policy", "s3://${local.runner_bucket}/policy/slo.yaml"],
  )
}

# --- the reports bucket: the runs' history ---------------------------------

resource "aws_s3_bucket" "reports" {
  provider      = aws.secondary
  count         = local.runner
  bucket        = local.runner_bucket
  force_destroy = false
}

resource "aws_s3_bucket_public_access_block" "reports" {
  provider                = aws.secondary
  count                   = local.runner
  bucket                  = aws_s3_bucket.reports[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "reports" {
  provider = aws.secondary
  count    = local.runner
  bucket   = aws_s3_bucket.reports[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "reports" {
  provider = aws.secondary
  count    = local.runner
  bucket   = aws_s3_bucket.reports[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.secondary.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "reports" {
  provider = aws.secondary
  count    = local.runner
  bucket   = aws_s3_bucket.reports[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "reports" {
  provider = aws.secondary
  count    = local.runner
  bucket   = aws_s3_bucket.reports[0].id
  rule {
    id     = "runs"
    status = "Enabled"
    filter {
      prefix = "runs/"
    }
    expiration {
      days = var.report_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

# TLS only (S3 User Guide, "Security best practices": deny requests whose
# aws:SecureTransport is false).
resource "aws_s3_bucket_policy" "reports" {
  provider = aws.secondary
  count    = local.runner
  bucket   = aws_s3_bucket.reports[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "TLSOnly"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.reports[0].arn, "${aws_s3_bucket.reports[0].arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })
  depends_on = [aws_s3_bucket_public_access_block.reports]
}

resource "aws_s3_object" "outputs" {
  provider     = aws.secondary
  count        = local.runner
  bucket       = aws_s3_bucket.reports[0].id
  key          = "outputs/flat-outputs.json"
  content      = jsonencode(local.runner_outputs)
  content_type = "application/json"
  depends_on   = [aws_s3_bucket_server_side_encryption_configuration.reports]
}

resource "aws_s3_object" "policy" {
  provider     = aws.secondary
  count        = var.runner_enabled && var.runner_policy != "" ? 1 : 0
  bucket       = aws_s3_bucket.reports[0].id
  key          = "policy/slo.yaml"
  content      = var.runner_policy
  content_type = "application/yaml"
  depends_on   = [aws_s3_bucket_server_side_encryption_configuration.reports]
}

# --- the image --------------------------------------------------------------

resource "aws_ecr_repository" "runner" {
  provider             = aws.secondary
  count                = local.runner
  name                 = local.runner_name
  image_tag_mutability = "MUTABLE"
  force_delete         = true # the images are rebuilt from the repository by `make image`
  image_scanning_configuration {
    scan_on_push = true
  }
}

resource "aws_ecr_lifecycle_policy" "runner" {
  provider   = aws.secondary
  count      = local.runner
  repository = aws_ecr_repository.runner[0].name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "keep the last 10 images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 10 }
      action       = { type = "expire" }
    }]
  })
}

# --- the task ---------------------------------------------------------------

resource "aws_ecs_cluster" "runner" {
  provider = aws.secondary
  count    = local.runner
  name     = local.runner_name
}

resource "aws_cloudwatch_log_group" "runner" {
  provider          = aws.secondary
  count             = local.runner
  name              = "/ecs/${local.runner_name}"
  retention_in_days = var.log_retention_days
}

resource "aws_ecs_task_definition" "runner" {
  provider                 = aws.secondary
  count                    = local.runner
  family                   = local.runner_name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = "1024"
  memory                   = "2048"
  execution_role_arn       = aws_iam_role.runner_execution[0].arn
  task_role_arn            = aws_iam_role.harness.arn
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.runner_cpu_architecture
  }
  container_definitions = jsonencode([{
    name      = "runner"
    image     = "${aws_ecr_repository.runner[0].repository_url}:${var.runner_image_tag}"
    essential = true
    command   = local.runner_command
    environment = [
      { name = "DRDRILL_ALLOWED_ACCOUNTS", value = local.account },
      { name = "DRDRILL_STOP_ALARMS", value = join(",", var.runner_stop_alarms) },
    ]
    # ECS sends SIGTERM, then SIGKILL after this (120 s at most on
    # Fargate): the drill rolls its faults back and uploads its run in it.
    stopTimeout = 120
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.runner[0].name
        awslogs-region        = var.secondary_region
        awslogs-stream-prefix = "runner"
      }
    }
  }])
}

resource "aws_security_group" "runner" {
  provider    = aws.secondary
  count       = local.runner
  name        = "${local.runner_name}-secondary"
  description = "drdrill scheduled runner: MySQL to both VPCs, HTTPS to the AWS APIs"
  vpc_id      = aws_vpc.secondary.id
}

resource "aws_vpc_security_group_egress_rule" "runner" {
  provider          = aws.secondary
  for_each          = var.runner_enabled ? { mysql_primary = [var.primary_vpc_cidr, 3306], mysql_secondary = [var.secondary_vpc_cidr, 3306], https = ["0.0.0.0/0", 443] } : {}
  security_group_id = aws_security_group.runner[0].id
  cidr_ipv4         = each.value[0]
  ip_protocol       = "tcp"
  from_port         = each.value[1]
  to_port           = each.value[1]
  description       = each.key
}

# --- the schedule -----------------------------------------------------------

resource "aws_scheduler_schedule" "runner" {
  provider                     = aws.secondary
  count                        = local.runner
  name                         = local.runner_name
  group_name                   = "default"
  schedule_expression          = var.runner_schedule
  schedule_expression_timezone = var.runner_schedule_timezone
  flexible_time_window {
    mode = "OFF"
  }
  target {
    arn      = aws_ecs_cluster.runner[0].arn
    role_arn = aws_iam_role.runner_scheduler[0].arn
    ecs_parameters {
      task_definition_arn = aws_ecs_task_definition.runner[0].arn_without_revision
      launch_type         = "FARGATE"
      task_count          = 1
      network_configuration {
        subnets          = aws_subnet.functions_secondary[*].id
        security_groups  = [aws_security_group.runner[0].id]
        assign_public_ip = false
      }
    }
    # A drill that could not start is not started again hours later.
    retry_policy {
      maximum_retry_attempts       = 0
      maximum_event_age_in_seconds = 3600
    }
  }
}

# --- egress for the function subnets of the runner's region -----------------

resource "aws_internet_gateway" "secondary" {
  provider = aws.secondary
  count    = local.runner
  vpc_id   = aws_vpc.secondary.id
  tags     = { Name = "${local.name}-secondary" }
}

resource "aws_subnet" "public_secondary" {
  provider          = aws.secondary
  count             = local.runner
  vpc_id            = aws_vpc.secondary.id
  cidr_block        = cidrsubnet(var.secondary_vpc_cidr, 8, 32)
  availability_zone = data.aws_availability_zones.secondary.names[count.index]
  tags              = { Name = "${local.name}-secondary-public" }
}

resource "aws_route_table" "public_secondary" {
  provider = aws.secondary
  count    = local.runner
  vpc_id   = aws_vpc.secondary.id
  tags     = { Name = "${local.name}-secondary-public" }
}

resource "aws_route" "public_secondary_internet" {
  provider               = aws.secondary
  count                  = local.runner
  route_table_id         = aws_route_table.public_secondary[0].id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.secondary[0].id
}

resource "aws_route_table_association" "public_secondary" {
  provider       = aws.secondary
  count          = local.runner
  subnet_id      = aws_subnet.public_secondary[0].id
  route_table_id = aws_route_table.public_secondary[0].id
}

resource "aws_eip" "runner_nat" {
  provider = aws.secondary
  count    = local.runner
  domain   = "vpc"
  tags     = { Name = "${local.name}-secondary-nat" }
}

resource "aws_nat_gateway" "secondary" {
  provider      = aws.secondary
  count         = local.runner
  allocation_id = aws_eip.runner_nat[0].id
  subnet_id     = aws_subnet.public_secondary[0].id
  tags          = { Name = "${local.name}-secondary" }
  depends_on    = [aws_internet_gateway.secondary]
}

resource "aws_route" "functions_secondary_nat" {
  provider               = aws.secondary
  count                  = local.runner
  route_table_id         = aws_route_table.functions_secondary.id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.secondary[0].id
}

resource "aws_vpc_endpoint" "s3_secondary" {
  provider          = aws.secondary
  count             = local.runner
  vpc_id            = aws_vpc.secondary.id
  service_name      = "com.amazonaws.${var.secondary_region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.functions_secondary.id]
  tags              = { Name = "${local.name}-secondary-s3" }
}

output "RunnerReportsBucket" {
  description = "The scheduled runner's reports bucket: the runs under runs/ (drdrill verdict --window N s3://BUCKET/runs), the outputs file under outputs/ (empty without the runner)."
  value       = one(aws_s3_bucket.reports[*].bucket)
}

output "RunnerRepositoryUrl" {
  description = "The runner image's repository: make push IMAGE=<this>:<runner_image_tag> (empty without the runner)."
  value       = one(aws_ecr_repository.runner[*].repository_url)
}

output "RunnerClusterArn" {
  description = "The runner's ECS cluster: its tasks, running and stopped (aws ecs list-tasks --cluster …) (empty without the runner)."
  value       = one(aws_ecs_cluster.runner[*].arn)
}
