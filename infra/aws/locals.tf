locals {
  name = "drdrill-${var.environment_suffix}"
  tags = merge(var.tags, {
    Project     = "drdrill"
    Environment = var.environment_suffix
    # The AWS target refuses to inject faults into a global cluster without it.
    "drdrill:allowed" = "true"
  })
  endpoint_services = toset(["rds", "monitoring", "logs", "sns", "secretsmanager", "sts"])
}

data "aws_caller_identity" "current" {
  provider = aws.primary
}

data "aws_partition" "current" {
  provider = aws.primary
}
