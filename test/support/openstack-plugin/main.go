// pulumi-resource-openstack, built where the stock plugin cannot be.
//
// @pulumi/openstack 3.15.2 talks to a resource plugin named "openstack". The stock one is
// github.com/pulumi/pulumi-openstack/provider/v3, which the Go module proxy reachable here does
// not serve (403). The stock plugin is nothing but Terraform's OpenStack provider run through
// pulumi-terraform-bridge, and both of those are served; so this program does the same thing with
// the modules that exist: terraform-provider-openstack v3.4.0 through pulumi-terraform-bridge
// v3.120.0.
//
// Only the resources dockwall uses are mapped, under the stock tokens and property names of
// @pulumi/openstack 3.15.2:
//
//	openstack_networking_network_v2  ->  openstack:networking/network:Network
//	openstack_networking_subnet_v2   ->  openstack:networking/subnet:Subnet
//
// Everything else in the Terraform provider is left out (a program that uses another
// @pulumi/openstack resource gets the engine's "unknown resource type" error). The provider's
// configuration (authUrl, userName, password, tenantName, cacertFile, insecure, ...) and its OS_*
// environment variables are Terraform's own, as in the stock plugin; password and token are
// sensitive there, so the engine keeps them secret.
//
// The Pulumi schema is generated in memory when the plugin starts (no docs, two resources: a few
// milliseconds), so the build is a single `go build`.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"
	shim "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag/colors"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/spf13/afero"
	"github.com/terraform-provider-openstack/terraform-provider-openstack/v3/openstack"
)

// Version is what the plugin reports; set with -ldflags "-X main.Version=...".
var Version = "3.15.2"

// mapped are the Terraform resources this plugin serves, by the tokens @pulumi/openstack 3.15.2 uses.
var mapped = map[string]string{
	"openstack_networking_network_v2": "openstack:networking/network:Network",
	"openstack_networking_subnet_v2":  "openstack:networking/subnet:Subnet",
}

func providerInfo() tfbridge.ProviderInfo {
	p := shimv2.NewProvider(openstack.Provider())
	info := tfbridge.ProviderInfo{
		P:            p,
		Name:         "openstack",
		Version:      Version,
		Description:  "OpenStack resources for dockwall (Terraform's OpenStack provider through pulumi-terraform-bridge).",
		License:      "Apache-2.0",
		GitHubOrg:    "terraform-provider-openstack",
		Repository:   "https://github.com/terraform-provider-openstack/terraform-provider-openstack",
		Resources:    map[string]*tfbridge.ResourceInfo{},
		DataSources:  map[string]*tfbridge.DataSourceInfo{},
		MetadataInfo: tfbridge.NewProviderMetadata(nil),
	}
	for tf, tok := range mapped {
		info.Resources[tf] = &tfbridge.ResourceInfo{Tok: tokens.Type(tok), Docs: &tfbridge.DocInfo{AllowMissing: true}}
	}
	p.ResourcesMap().Range(func(name string, _ shim.Resource) bool {
		if _, ok := mapped[name]; !ok {
			info.IgnoreMappings = append(info.IgnoreMappings, name)
		}
		return true
	})
	p.DataSourcesMap().Range(func(name string, _ shim.Resource) bool {
		info.IgnoreMappings = append(info.IgnoreMappings, name)
		return true
	})
	sort.Strings(info.IgnoreMappings)
	return info
}

func main() {
	info := providerInfo()
	sink := diag.DefaultSink(os.Stderr, os.Stderr, diag.FormatOptions{Color: colors.Never})
	g, err := tfgen.NewGenerator(tfgen.GeneratorOptions{
		Package: "openstack", Version: Version, Language: tfgen.Schema, ProviderInfo: info,
		Root: afero.NewMemMapFs(), Sink: sink, SkipDocs: true, SkipExamples: true,
	})
	var res *tfgen.GenerateSchemaResult
	if err == nil {
		res, err = g.Generate()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-openstack: generating the schema: %v\n", err)
		os.Exit(1)
	}
	schema, err := json.Marshal(res.PackageSpec)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-openstack: encoding the schema: %v\n", err)
		os.Exit(1)
	}
	tfbridge.Main("openstack", Version, info, schema)
}
