locals {
  name = "drdrill-${var.environment_suffix}"
  tags = merge(var.tags, {
    Project     = "drdrill"
    Environment = var.environment_suffix
    # The AWS target refuses to inject faults into a global cluster without it.
    "drdrill:allowed" = "true"
  })
  # Interface endpoints for exactly the APIs each region's functions call
  # (internal/monitor TestEndpointsAreWhatTheMonitorsCall derives them from the
  # code): the health monitor (both regions) calls RDS, CloudWatch and
  # Secrets Manager. The failover trigger runs outside the VPCs (it opens
  # no database connection, and must read the primary region's CloudWatch
  # over a path that a cut peering does not cut), so it needs none. No logs
  # endpoint: the Lambda service ships function logs itself, outside the
  # VPC. No sts endpoint: the functions take their role's credentials from
  # the execution environment and never call STS. At $0.01 per endpoint-AZ
  # hour they are most of the idle cost, so none is kept "just in case".
  endpoint_services_primary   = toset(["rds", "monitoring", "secretsmanager"])
  endpoint_services_secondary = toset(["rds", "monitoring", "secretsmanager"])
}

data "aws_caller_identity" "current" {
  provider = aws.primary
}

data "aws_partition" "current" {
  provider = aws.primary
}
