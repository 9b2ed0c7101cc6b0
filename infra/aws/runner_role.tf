# The scheduled runner's roles. Its task role is the harness's (harness.tf),
# which this file grants the reports bucket; the twin enforces it on every
# call the runner's task makes (TestScheduledDrillsOnTheTwin).

data "aws_iam_policy_document" "ecs_tasks_assume" {
  provider = aws.primary
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

data "aws_iam_policy_document" "scheduler_assume" {
  provider = aws.primary
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

locals {
  runner_logs = "arn:${local.partition}:logs:${var.secondary_region}:${local.account}:log-group:/ecs/${local.runner_name}:*"
}

# The task role is the harness's own (harness.tf): a scheduled run may do
# what an operator's drill may, and no more. The runner adds the reports
# bucket: the runs it writes, and the outputs file and policy it reads.
resource "aws_iam_role_policy" "harness_reports" {
  provider = aws.primary
  count    = local.runner
  name     = "drdrill-reports"
  role     = aws_iam_role.harness.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Sid = "ListTheRuns", Effect = "Allow", Action = ["s3:ListBucket"], Resource = [aws_s3_bucket.reports[0].arn] },
      # Runs are written under runs/ only; the outputs file and the policy
      # the runner drills with are read, never written, by it.
      { Sid = "ReadAndWriteTheRuns", Effect = "Allow", Action = ["s3:GetObject", "s3:PutObject"], Resource = ["${aws_s3_bucket.reports[0].arn}/runs/*"] },
      { Sid = "ReadTheOutputsAndThePolicy", Effect = "Allow", Action = ["s3:GetObject"], Resource = ["${aws_s3_bucket.reports[0].arn}/outputs/*", "${aws_s3_bucket.reports[0].arn}/policy/*"] },
      # SSE-KMS with the secondary key, only through S3 in its region.
      { Sid = "EncryptTheRuns", Effect = "Allow", Action = ["kms:GenerateDataKey", "kms:Decrypt"], Resource = [aws_kms_key.secondary.arn],
      Condition = { StringEquals = { "kms:ViaService" = "s3.${var.secondary_region}.amazonaws.com" } } },
    ]
  })
}

# The execution role: ECS pulls the image and ships the container's log.
resource "aws_iam_role" "runner_execution" {
  provider           = aws.primary
  count              = local.runner
  name               = "${local.runner_name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "runner_execution" {
  provider = aws.primary
  count    = local.runner
  name     = "pull-and-log"
  role     = aws_iam_role.runner_execution[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      # GetAuthorizationToken takes no resource (ECR API reference).
      { Effect = "Allow", Action = ["ecr:GetAuthorizationToken"], Resource = ["*"] },
      { Effect = "Allow", Action = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"], Resource = [aws_ecr_repository.runner[0].arn] },
      { Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = [local.runner_logs] },
    ]
  })
}

# The schedule's role: run this task definition in this cluster, passing
# its two roles to ECS (ECS Developer Guide, "Amazon ECS EventBridge IAM
# Role").
resource "aws_iam_role" "runner_scheduler" {
  provider           = aws.primary
  count              = local.runner
  name               = "${local.runner_name}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
}

resource "aws_iam_role_policy" "runner_scheduler" {
  provider = aws.primary
  count    = local.runner
  name     = "run-the-drill"
  role     = aws_iam_role.runner_scheduler[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Effect = "Allow", Action = ["ecs:RunTask"], Resource = ["${aws_ecs_task_definition.runner[0].arn_without_revision}:*"],
      Condition = { StringEquals = { "ecs:cluster" = aws_ecs_cluster.runner[0].arn } } },
      { Effect = "Allow", Action = ["iam:PassRole"], Resource = [aws_iam_role.harness.arn, aws_iam_role.runner_execution[0].arn],
      Condition = { StringEquals = { "iam:PassedToService" = "ecs-tasks.amazonaws.com" } } },
    ]
  })
}
