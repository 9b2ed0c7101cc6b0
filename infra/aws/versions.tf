terraform {
  # use_lockfile (S3-native state locking) needs Terraform/OpenTofu >= 1.10;
  # write-only arguments and ephemeral resources need >= 1.11.
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.19"
    }
  }

  # Partial configuration: terraform init -backend-config=backend.hcl
  backend "s3" {}
}

provider "aws" {
  alias  = "primary"
  region = var.primary_region
  default_tags {
    tags = local.tags
  }
}

provider "aws" {
  alias  = "secrets"
  region = var.primary_region
}

provider "aws" {
  alias  = "secondary"
  region = var.secondary_region
  default_tags {
    tags = local.tags
  }
}
