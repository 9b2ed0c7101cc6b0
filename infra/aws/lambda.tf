# The health monitors (one per region) and the failover trigger (secondary
# region), from the zips `make lambda` builds: arm64 (Graviton),
# provided.al2023. IAM follows docs/lambda.md: no "*" action.

locals {
  account        = data.aws_caller_identity.current.account_id
  partition      = data.aws_partition.current.partition
  monitor_zip    = "${var.lambda_dir}/healthmonitor.zip"
  trigger_zip    = "${var.lambda_dir}/failovertrigger.zip"
  global_arn     = "arn:${local.partition}:rds::${local.account}:global-cluster:${aws_rds_global_cluster.global.global_cluster_identifier}"
  fn_monitor_pri = "${local.name}-health-monitor-primary"
  fn_monitor_sec = "${local.name}-health-monitor-secondary"
  fn_trigger     = "${local.name}-failover-trigger"
}

data "aws_iam_policy_document" "lambda_assume" {
  provider = aws.primary
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "monitor_primary" {
  provider           = aws.primary
  name               = "${local.name}-monitor-primary"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

resource "aws_iam_role" "monitor_secondary" {
  provider           = aws.primary
  name               = "${local.name}-monitor-secondary"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

resource "aws_iam_role" "trigger" {
  provider           = aws.primary
  name               = "${local.name}-failover-trigger"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

# ENI management for functions in a VPC: the EC2 half of the AWS managed
# AWSLambdaVPCAccessExecutionRole, without its logs:* on "*" (each function's
# own policy grants its log group). The ENI APIs take no narrower resource.
resource "aws_iam_role_policy" "vpc_access" {
  provider = aws.primary
  for_each = { monitor_primary = aws_iam_role.monitor_primary.id, monitor_secondary = aws_iam_role.monitor_secondary.id }
  name     = "vpc-access"
  role     = each.value
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Effect = "Allow", Resource = ["*"], Action = [
        "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
      ] },
    ]
  })
}

locals {
  monitor_policy = {
    primary = {
      region  = var.primary_region
      cluster = aws_rds_cluster.primary.arn
      secret  = aws_secretsmanager_secret.db.arn
      key     = aws_kms_key.primary.arn
      logs    = "arn:${local.partition}:logs:${var.primary_region}:${local.account}:log-group:/aws/lambda/${local.fn_monitor_pri}:*"
    }
    secondary = {
      region  = var.secondary_region
      cluster = aws_rds_cluster.secondary.arn
      secret  = replace(aws_secretsmanager_secret.db.arn, ":${var.primary_region}:", ":${var.secondary_region}:")
      key     = aws_kms_key.secondary.arn
      logs    = "arn:${local.partition}:logs:${var.secondary_region}:${local.account}:log-group:/aws/lambda/${local.fn_monitor_sec}:*"
    }
  }
}

resource "aws_iam_role_policy" "monitor" {
  provider = aws.primary
  for_each = local.monitor_policy
  name     = "health-monitor"
  role     = each.key == "primary" ? aws_iam_role.monitor_primary.id : aws_iam_role.monitor_secondary.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Effect = "Allow", Action = ["rds:DescribeDBClusters"], Resource = [each.value.cluster] },
      { Effect = "Allow", Action = ["rds:DescribeGlobalClusters"], Resource = [local.global_arn] },
      { Effect = "Allow", Action = ["secretsmanager:GetSecretValue"], Resource = [each.value.secret] },
      { Effect = "Allow", Action = ["kms:Decrypt"], Resource = [each.value.key],
      Condition = { StringEquals = { "kms:ViaService" = "secretsmanager.${each.value.region}.amazonaws.com" } } },
      { Effect = "Allow", Action = ["cloudwatch:PutMetricData"], Resource = ["*"],
      Condition = { StringEquals = { "cloudwatch:namespace" = "DRDrill" } } },
      { Effect = "Allow", Action = ["cloudwatch:GetMetricData"], Resource = ["*"] },
      { Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = [each.value.logs] },
    ]
  })
}

resource "aws_iam_role_policy" "trigger" {
  provider = aws.primary
  name     = "failover-trigger"
  role     = aws_iam_role.trigger.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Effect = "Allow", Action = ["rds:DescribeGlobalClusters", "rds:FailoverGlobalCluster", "rds:SwitchoverGlobalCluster"],
      Resource = [local.global_arn, aws_rds_cluster.primary.arn, aws_rds_cluster.secondary.arn] },
      # Either cluster may be the writer or the target: the trigger decides
      # about whichever is the writer now and fails over to the other.
      { Effect = "Allow", Action = ["rds:DescribeDBClusters"], Resource = [aws_rds_cluster.primary.arn, aws_rds_cluster.secondary.arn] },
      # Both regions' metrics: each monitor's view of the other region
      # and each region's view of itself (the second signal).
      { Effect = "Allow", Action = ["cloudwatch:GetMetricData"], Resource = ["*"] },
      # Its failover decisions, which the drill reads as the detection time.
      { Effect = "Allow", Action = ["cloudwatch:PutMetricData"], Resource = ["*"],
      Condition = { StringEquals = { "cloudwatch:namespace" = "DRDrill" } } },
      { Effect = "Allow", Action = ["sns:Publish"], Resource = [aws_sns_topic.secondary.arn] },
      # The topic is encrypted with the secondary key: publishing needs it
      # (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
      { Effect = "Allow", Action = ["kms:GenerateDataKey*", "kms:Decrypt"], Resource = [aws_kms_key.secondary.arn],
      Condition = { StringEquals = { "kms:ViaService" = "sns.${var.secondary_region}.amazonaws.com" } } },
      { Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"],
      Resource = ["arn:${local.partition}:logs:${var.secondary_region}:${local.account}:log-group:/aws/lambda/${local.fn_trigger}:*"] },
    ]
  })
}

resource "aws_cloudwatch_log_group" "monitor_primary" {
  provider          = aws.primary
  name              = "/aws/lambda/${local.fn_monitor_pri}"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_group" "monitor_secondary" {
  provider          = aws.secondary
  name              = "/aws/lambda/${local.fn_monitor_sec}"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_group" "trigger" {
  provider          = aws.secondary
  name              = "/aws/lambda/${local.fn_trigger}"
  retention_in_days = var.log_retention_days
}

# The monitors probe reader endpoints only: a cluster's writer endpoint is
# inactive while the cluster is a secondary ("All secondary Regions also
# have writer endpoints, but they're inactive"; "The reader endpoint isn't
# affected after a global database failover": AWS Database Blog, "Automate
# Amazon Aurora Global Database endpoint management"), so a writer-endpoint
# probe reports a healthy region unhealthy after any switchover. A region's
# health is its own, whatever its role; the roles come from
# DescribeGlobalClusters (GlobalClusterMembers[].IsWriter).
resource "aws_lambda_function" "monitor_primary" {
  provider         = aws.primary
  function_name    = local.fn_monitor_pri
  role             = aws_iam_role.monitor_primary.arn
  filename         = local.monitor_zip
  source_code_hash = filebase64sha256(local.monitor_zip)
  handler          = "bootstrap"
  runtime          = "provided.al2023"
  architectures    = ["arm64"] # Graviton: the zip holds an arm64 binary
  timeout          = 30
  memory_size      = 128
  vpc_config {
    subnet_ids         = aws_subnet.functions_primary[*].id
    security_group_ids = [aws_security_group.lambda_primary.id]
  }
  environment {
    variables = {
      DRDRILL_PEER_REGION       = var.secondary_region
      DRDRILL_CLUSTER_ID        = aws_rds_cluster.primary.cluster_identifier
      DRDRILL_CLUSTER_ENDPOINT  = "${aws_rds_cluster.primary.reader_endpoint}:3306"
      DRDRILL_PEER_ENDPOINT     = "${aws_rds_cluster.secondary.reader_endpoint}:3306"
      DRDRILL_GLOBAL_CLUSTER_ID = aws_rds_global_cluster.global.global_cluster_identifier
      DRDRILL_SECRET_ARN        = aws_secretsmanager_secret.db.arn
    }
  }
  depends_on = [aws_cloudwatch_log_group.monitor_primary, aws_iam_role_policy.monitor, aws_iam_role_policy.vpc_access]
}

resource "aws_lambda_function" "monitor_secondary" {
  provider         = aws.secondary
  function_name    = local.fn_monitor_sec
  role             = aws_iam_role.monitor_secondary.arn
  filename         = local.monitor_zip
  source_code_hash = filebase64sha256(local.monitor_zip)
  handler          = "bootstrap"
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  timeout          = 30
  memory_size      = 128
  vpc_config {
    subnet_ids         = aws_subnet.functions_secondary[*].id
    security_group_ids = [aws_security_group.lambda_secondary.id]
  }
  environment {
    variables = {
      DRDRILL_PEER_REGION       = var.primary_region
      DRDRILL_CLUSTER_ID        = aws_rds_cluster.secondary.cluster_identifier
      DRDRILL_CLUSTER_ENDPOINT  = "${aws_rds_cluster.secondary.reader_endpoint}:3306"
      DRDRILL_PEER_ENDPOINT     = "${aws_rds_cluster.primary.reader_endpoint}:3306"
      DRDRILL_GLOBAL_CLUSTER_ID = aws_rds_global_cluster.global.global_cluster_identifier
      DRDRILL_SECRET_ARN        = local.monitor_policy.secondary.secret
    }
  }
  depends_on = [aws_cloudwatch_log_group.monitor_secondary, aws_iam_role_policy.monitor, aws_iam_role_policy.vpc_access]
}

resource "aws_lambda_function" "trigger" {
  provider         = aws.secondary
  function_name    = local.fn_trigger
  role             = aws_iam_role.trigger.arn
  filename         = local.trigger_zip
  source_code_hash = filebase64sha256(local.trigger_zip)
  handler          = "bootstrap"
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  timeout          = 60
  memory_size      = 128
  # No vpc_config: the trigger opens no database connection. Outside the
  # VPCs it reaches both regions' public API endpoints, so its second
  # signal (the primary's own RegionHealthy, read in the primary region)
  # does not travel over the peering whose loss it must tell apart from a
  # region's.
  environment {
    variables = {
      DRDRILL_GLOBAL_CLUSTER_ID = aws_rds_global_cluster.global.global_cluster_identifier
      # The members it may act on, in either role: it decides about
      # whichever is the writer (DescribeGlobalClusters) and fails over to
      # the other.
      DRDRILL_CLUSTER_ARNS      = "${aws_rds_cluster.primary.arn},${aws_rds_cluster.secondary.arn}"
      DRDRILL_SNS_TOPIC_ARN     = aws_sns_topic.secondary.arn
      DRDRILL_FAILURE_THRESHOLD = tostring(var.failure_threshold)
      DRDRILL_DRY_RUN           = tostring(var.failover_dry_run)
    }
  }
  depends_on = [aws_cloudwatch_log_group.trigger, aws_iam_role_policy.trigger]
}

# Every minute: both monitors and the trigger.
resource "aws_cloudwatch_event_rule" "schedule_primary" {
  provider            = aws.primary
  name                = "${local.name}-health-schedule"
  schedule_expression = "rate(1 minute)"
}

resource "aws_cloudwatch_event_rule" "schedule_secondary" {
  provider            = aws.secondary
  name                = "${local.name}-health-schedule"
  schedule_expression = "rate(1 minute)"
}

resource "aws_cloudwatch_event_target" "monitor_primary" {
  provider = aws.primary
  rule     = aws_cloudwatch_event_rule.schedule_primary.name
  arn      = aws_lambda_function.monitor_primary.arn
}

resource "aws_cloudwatch_event_target" "monitor_secondary" {
  provider = aws.secondary
  rule     = aws_cloudwatch_event_rule.schedule_secondary.name
  arn      = aws_lambda_function.monitor_secondary.arn
}

resource "aws_cloudwatch_event_target" "trigger_schedule" {
  provider = aws.secondary
  rule     = aws_cloudwatch_event_rule.schedule_secondary.name
  arn      = aws_lambda_function.trigger.arn
}

# The alarm path: alarm state changes in the secondary region (EventBridge)
# and the primary region's topic (SNS, cross-region) invoke the trigger.
resource "aws_cloudwatch_event_rule" "alarm_state" {
  provider = aws.secondary
  name     = "${local.name}-alarm-state"
  event_pattern = jsonencode({
    source        = ["aws.cloudwatch"]
    "detail-type" = ["CloudWatch Alarm State Change"]
    detail        = { alarmName = [{ prefix = local.name }], state = { value = ["ALARM"] } }
  })
}

resource "aws_cloudwatch_event_target" "trigger_alarm" {
  provider = aws.secondary
  rule     = aws_cloudwatch_event_rule.alarm_state.name
  arn      = aws_lambda_function.trigger.arn
}

resource "aws_lambda_permission" "events_monitor_primary" {
  provider      = aws.primary
  statement_id  = "AllowSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.monitor_primary.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.schedule_primary.arn
}

resource "aws_lambda_permission" "events_monitor_secondary" {
  provider      = aws.secondary
  statement_id  = "AllowSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.monitor_secondary.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.schedule_secondary.arn
}

resource "aws_lambda_permission" "events_trigger_schedule" {
  provider      = aws.secondary
  statement_id  = "AllowSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.trigger.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.schedule_secondary.arn
}

resource "aws_lambda_permission" "events_trigger_alarm" {
  provider      = aws.secondary
  statement_id  = "AllowAlarmState"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.trigger.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.alarm_state.arn
}

resource "aws_lambda_permission" "sns_trigger" {
  provider      = aws.secondary
  statement_id  = "AllowPrimaryTopic"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.trigger.function_name
  principal     = "sns.amazonaws.com"
  source_arn    = aws_sns_topic.primary.arn
}

resource "aws_sns_topic_subscription" "trigger" {
  provider  = aws.primary
  topic_arn = aws_sns_topic.primary.arn
  protocol  = "lambda"
  endpoint  = aws_lambda_function.trigger.arn
}
