# drdrill's own role: what the harness (`drdrill drill`, `fault`, `recover`,
# `aws preflight`) may do to this stack, and nothing more (docs/aws.md, "IAM
# for the harness's role"). One role, shaped for the scheduled runner that
# will use it as its ECS task role, and assumable by the principals an
# operator names (a CI role, a game-day operator).
#
# Every statement is scoped by ARN, and by the stack's drdrill:allowed tag
# (or the managedByDrdrill tag on what the harness creates) where the
# resource type takes aws:ResourceTag (Service Authorization Reference).
# The few actions on "*" are the ones that take no resource: EC2's
# Describe*, CloudWatch GetMetricData and SNS Unsubscribe. sts:GetCallerIdentity
# needs no permission at all (STS API reference).

variable "harness_principal_arns" {
  type        = list(string)
  description = "IAM principals (a CI role, an operator's role) allowed to assume the harness role, besides ECS tasks of this account; empty: ECS tasks only."
  default     = []
}

locals {
  harness_regions = [var.primary_region, var.secondary_region]
  harness_vpcs    = [for r in local.harness_regions : "arn:${local.partition}:ec2:${r}:${local.account}:vpc/*"]
  harness_acls    = [for r in local.harness_regions : "arn:${local.partition}:ec2:${r}:${local.account}:network-acl/*"]
  harness_monitors = [
    "arn:${local.partition}:lambda:${var.primary_region}:${local.account}:function:${local.fn_monitor_pri}",
    "arn:${local.partition}:lambda:${var.secondary_region}:${local.account}:function:${local.fn_monitor_sec}",
  ]
  harness_operators = [for s in [{
    Sid       = "Operators"
    Effect    = "Allow"
    Principal = { AWS = var.harness_principal_arns }
    Action    = "sts:AssumeRole"
  }] : s if length(var.harness_principal_arns) > 0]
}

resource "aws_iam_role" "harness" {
  provider    = aws.primary
  name        = "${local.name}-harness"
  description = "drdrill's harness: drills, faults and recovery against ${local.name} (least privilege)"
  # ECS renews the scheduled runner's task credentials. A session assumed
  # by hand lasts 4 hours, shorter than one scenario at Aurora's slowest
  # (AWSBounds.Scenario, 255 minutes): a long drill by hand re-assumes it.
  max_session_duration = 4 * 3600
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([{
      # The scheduled runner's task role; only this account's tasks
      # (ECS Developer Guide, "Task IAM role": the confused-deputy guard).
      Sid       = "ScheduledRunner"
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account }
        ArnLike      = { "aws:SourceArn" = "arn:${local.partition}:ecs:*:${local.account}:*" }
      }
    }], local.harness_operators)
  })
}

resource "aws_iam_role_policy" "harness" {
  provider = aws.primary
  name     = "drdrill-harness"
  role     = aws_iam_role.harness.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      # Reads that take no resource.
      { Sid = "Describe", Effect = "Allow", Action = ["ec2:DescribeNetworkAcls", "cloudwatch:GetMetricData"], Resource = ["*"] },
      # The guard, the topology and the waits.
      { Sid = "ReadTheGlobalCluster", Effect = "Allow", Action = ["rds:DescribeGlobalClusters", "rds:ListTagsForResource"], Resource = [local.global_arn] },
      { Sid = "ReadTheClusters", Effect = "Allow", Action = ["rds:DescribeDBClusters"], Resource = [aws_rds_cluster.primary.arn, aws_rds_cluster.secondary.arn] },
      # planned-switchover, unplanned-failover, their switch-backs, failback.
      { Sid = "Promote", Effect = "Allow", Action = ["rds:SwitchoverGlobalCluster", "rds:FailoverGlobalCluster"],
      Resource = [local.global_arn, aws_rds_cluster.primary.arn, aws_rds_cluster.secondary.arn] },
      # Stop conditions may name any alarm of the account.
      { Sid = "ReadAlarms", Effect = "Allow", Action = ["cloudwatch:DescribeAlarms"], Resource = ["arn:${local.partition}:cloudwatch:*:${local.account}:alarm:*"] },
      # alarm-path: force the lag alarm, prove the notification arrives.
      { Sid      = "ForceTheLagAlarm", Effect = "Allow", Action = ["cloudwatch:SetAlarmState"],
        Resource = ["arn:${local.partition}:cloudwatch:${var.secondary_region}:${local.account}:alarm:${local.name}-replication-lag-*"],
      Condition = { StringEquals = { "aws:ResourceTag/drdrill:allowed" = "true" } } },
      { Sid = "SubscribeTheProofQueue", Effect = "Allow", Action = ["sns:Subscribe"], Resource = [aws_sns_topic.secondary.arn] },
      { Sid = "UnsubscribeTheProofQueue", Effect = "Allow", Action = ["sns:Unsubscribe"], Resource = ["*"] },
      { Sid    = "TheProofQueue", Effect = "Allow",
        Action = ["sqs:CreateQueue", "sqs:TagQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes", "sqs:ReceiveMessage", "sqs:DeleteQueue"],
      Resource = ["arn:${local.partition}:sqs:${var.secondary_region}:${local.account}:drdrill-alarm-proof-*"] },
      # region-isolation: a deny-all network ACL in the stack's VPCs, tagged
      # as drdrill's at creation; subnets moved onto it and back; only
      # drdrill's ACLs deleted.
      { Sid = "CreateTheDenyAclInTheStacksVPCs", Effect = "Allow", Action = ["ec2:CreateNetworkAcl"], Resource = local.harness_vpcs,
      Condition = { StringEquals = { "aws:ResourceTag/drdrill:allowed" = "true" } } },
      { Sid = "CreateOnlyTaggedAcls", Effect = "Allow", Action = ["ec2:CreateNetworkAcl"], Resource = local.harness_acls,
      Condition = { StringEquals = { "aws:RequestTag/managedByDrdrill" = "true" } } },
      { Sid = "TagTheDenyAclAtCreation", Effect = "Allow", Action = ["ec2:CreateTags"], Resource = local.harness_acls,
      Condition = { StringEquals = { "ec2:CreateAction" = "CreateNetworkAcl" } } },
      { Sid = "MoveSubnetsOntoTheDenyAcl", Effect = "Allow", Action = ["ec2:ReplaceNetworkAclAssociation"], Resource = local.harness_acls,
      Condition = { StringEquals = { "aws:ResourceTag/managedByDrdrill" = "true" } } },
      { Sid = "MoveSubnetsBack", Effect = "Allow", Action = ["ec2:ReplaceNetworkAclAssociation"], Resource = local.harness_acls,
      Condition = { StringEquals = { "aws:ResourceTag/drdrill:allowed" = "true" } } },
      { Sid = "DeleteOnlyDrdrillsAcls", Effect = "Allow", Action = ["ec2:DeleteNetworkAcl"], Resource = local.harness_acls,
      Condition = { StringEquals = { "aws:ResourceTag/managedByDrdrill" = "true" } } },
      # monitor-failure and the preflight: the two health monitors.
      { Sid = "ReadTheMonitors", Effect = "Allow", Action = ["lambda:GetFunctionConcurrency", "lambda:GetFunctionConfiguration"], Resource = local.harness_monitors },
      { Sid = "PauseTheMonitors", Effect = "Allow", Action = ["lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency"], Resource = local.harness_monitors,
      Condition = { StringEquals = { "aws:ResourceTag/drdrill:allowed" = "true" } } },
      # The preflight and the drill's observations.
      { Sid = "ReadTheHealthChecks", Effect = "Allow", Action = ["route53:GetHealthCheck", "route53:GetHealthCheckStatus"],
      Resource = ["arn:${local.partition}:route53:::healthcheck/*"] },
      # The database credentials, in either region (the replica when the
      # primary region is down).
      { Sid = "ReadTheDatabaseSecret", Effect = "Allow", Action = ["secretsmanager:GetSecretValue"],
      Resource = [local.monitor_policy.primary.secret, local.monitor_policy.secondary.secret] },
      { Sid = "DecryptTheSecret", Effect = "Allow", Action = ["kms:Decrypt"], Resource = [aws_kms_key.primary.arn, aws_kms_key.secondary.arn],
      Condition = { StringEquals = { "kms:ViaService" = [for r in local.harness_regions : "secretsmanager.${r}.amazonaws.com"] } } },
    ]
  })
}
