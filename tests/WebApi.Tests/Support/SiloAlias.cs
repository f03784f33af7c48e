extern alias SiloApp;

// The Silo assembly is referenced under the alias SiloApp (see WebApi.Tests.csproj): .NET 10's
// ASP.NET source generator makes its top-level Program public, which clashes with the WebApi's
// Program that WebApplicationFactory<Program> must start. Its namespaces come back into scope here.
global using SiloApp::OrleansScheduler.Silo;
global using SiloApp::OrleansScheduler.Silo.Handlers;
global using SiloApp::OrleansScheduler.Silo.Hosting;
